package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// RetentionName is the registered name of the retention Function.
const RetentionName = "retention"

// Retention is the retention Function.
type Retention struct {
	keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly int
	keepWithin                                                           string
	keepTags                                                             []string
	groupBy                                                              string
	tags                                                                 []string
	host                                                                 string
	prune                                                                bool
	dryRun                                                               bool
	stats                                                                bool
	statsTimeout                                                         time.Duration
}

// NewRetention returns a fresh retention Function.
func NewRetention() *Retention { return &Retention{} }

// Description implements step.Describer.
func (*Retention) Description() string {
	return "apply a retention policy to a restic repository (restic forget), optionally pruning"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (r *Retention) DeclaredOutputs() []string {
	return []string{outputs.Kept, outputs.Removed, outputs.TotalSize, outputs.SnapshotCount, outputs.KeptSnapshots, outputs.ForgottenSnapshots}
}

// Flags implements step.Function.
func (r *Retention) Flags(fs *pflag.FlagSet) {
	fs.IntVar(&r.keepLast, "keep-last", 0, "keep the last N snapshots")
	fs.IntVar(&r.keepHourly, "keep-hourly", 0, "keep the last N hourly snapshots")
	fs.IntVar(&r.keepDaily, "keep-daily", 0, "keep the last N daily snapshots")
	fs.IntVar(&r.keepWeekly, "keep-weekly", 0, "keep the last N weekly snapshots")
	fs.IntVar(&r.keepMonthly, "keep-monthly", 0, "keep the last N monthly snapshots")
	fs.IntVar(&r.keepYearly, "keep-yearly", 0, "keep the last N yearly snapshots")
	fs.StringVar(&r.keepWithin, "keep-within", "", "keep snapshots newer than this restic duration (e.g. 7d, 1y2m)")
	fs.StringSliceVar(&r.keepTags, "keep-tags", nil, "keep snapshots with these tags, comma separated (each one is a rule)")
	fs.StringVar(&r.groupBy, "group-by", "", "group snapshots by host, paths and/or tags, comma separated (restic's default: host,paths)")
	fs.StringSliceVar(&r.tags, "tags", nil, "only consider snapshots with all these tags, comma separated (e.g. target=db)")
	fs.StringVar(&r.host, "host", "", "only consider snapshots of this host")
	fs.BoolVar(&r.prune, "prune", false, "prune the repository after forgetting")
	fs.BoolVar(&r.dryRun, "dry-run", false, "only report what would be removed")
	fs.BoolVar(&r.stats, "stats", true, "report the repository's size and snapshot count afterwards (restic stats --mode raw-data; a failure only warns)")
	fs.DurationVar(&r.statsTimeout, "stats-timeout", time.Minute, "give up on --stats after this long (it walks every snapshot's trees: slow on repositories of many files)")
}

// reResticDuration matches restic durations such as 7d or 1y2m3d4h.
var reResticDuration = regexp.MustCompile(`^([0-9]+[ymdh])+$`)

// Validate implements step.Function.
func (r *Retention) Validate() error {
	for flag, n := range map[string]int{"keep-last": r.keepLast, "keep-hourly": r.keepHourly, "keep-daily": r.keepDaily,
		"keep-weekly": r.keepWeekly, "keep-monthly": r.keepMonthly, "keep-yearly": r.keepYearly} {
		if n < 0 {
			return fmt.Errorf("--%s: must not be negative", flag)
		}
	}
	if r.keepWithin != "" {
		if !reResticDuration.MatchString(r.keepWithin) {
			return fmt.Errorf("--keep-within: %q is not a restic duration like 7d or 1y2m3d4h", r.keepWithin)
		}
	}
	if r.keepLast+r.keepHourly+r.keepDaily+r.keepWeekly+r.keepMonthly+r.keepYearly == 0 && r.keepWithin == "" && len(r.keepTags) == 0 {
		return errors.New("--keep-last: no keep rule given (--keep-last, --keep-hourly, ..., --keep-within or --keep-tags); refusing to remove every snapshot")
	}
	if r.statsTimeout <= 0 {
		return errors.New("--stats-timeout: must be positive")
	}
	for _, g := range strings.Split(r.groupBy, ",") {
		switch g {
		case "", "host", "paths", "tags":
		default:
			return fmt.Errorf("--group-by: %q is not host, paths or tags", g)
		}
	}
	for _, t := range append(append([]string(nil), r.tags...), r.keepTags...) {
		if t == "" || strings.Contains(t, "\n") {
			return fmt.Errorf("--tags: invalid tag %q", t)
		}
	}
	return nil
}

// Run implements step.Function.
func (r *Retention) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	if _, err := repo.EnsureRepository(ctx); err != nil {
		return nil, err
	}
	res, err := repo.Forget(ctx, restic.ForgetOptions{
		KeepLast: r.keepLast, KeepHourly: r.keepHourly, KeepDaily: r.keepDaily, KeepWeekly: r.keepWeekly,
		KeepMonthly: r.keepMonthly, KeepYearly: r.keepYearly, KeepWithin: r.keepWithin, KeepTags: r.keepTags,
		GroupBy: r.groupBy, Filter: restic.Filter{Tags: r.tags, Host: r.host},
		Prune: r.prune, DryRun: r.dryRun,
	})
	out := step.Outputs{outputs.Kept: strconv.Itoa(res.Kept), outputs.Removed: strconv.Itoa(res.Removed)}
	if err != nil {
		return out, err
	}
	kept, forgotten := r.snapshotLists(res)
	out[outputs.KeptSnapshots], out[outputs.ForgottenSnapshots] = kept, forgotten
	env.Logger().Info("retention applied", "kept", res.Kept, "removed", res.Removed, "pruned", r.prune && !r.dryRun, "dryRun", r.dryRun)
	if r.stats {
		// The size is a report, not the step's purpose: the policy is
		// applied, so a failure here does not fail the step.
		sctx, cancel := context.WithTimeout(ctx, r.statsTimeout)
		defer cancel()
		st, err := repo.Stats(sctx, "raw-data")
		if err != nil {
			env.Logger().Warn("repository size not reported", "error", err)
			return out, nil
		}
		out[outputs.TotalSize] = strconv.FormatUint(st.TotalSize, 10)
		out[outputs.SnapshotCount] = strconv.Itoa(st.SnapshotsCount)
	}
	return out, nil
}

// snapshotLists renders the kept and (unless --dry-run) removed snapshots
// of a forget run as the keptSnapshots and forgottenSnapshots outputs.
func (r *Retention) snapshotLists(res restic.ForgetResult) (kept, forgotten string) {
	keep := []outputs.KeptSnapshot{}
	removed := []string{}
	for _, g := range res.Groups {
		for _, sn := range g.Keep {
			k := outputs.KeptSnapshot{ID: sn.ID, Time: sn.Time, Hostname: sn.Hostname, Paths: sn.Paths, Session: sn.Tag("session")}
			if sn.Summary != nil {
				size := sn.Summary.TotalBytesProcessed
				k.Size = &size
			}
			keep = append(keep, k)
		}
		if !r.dryRun {
			for _, sn := range g.Remove {
				removed = append(removed, sn.ID)
			}
		}
	}
	kb, _ := json.Marshal(keep)
	rb, _ := json.Marshal(removed)
	return string(kb), string(rb)
}
