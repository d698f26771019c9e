package repository

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// InitName is the registered name of the repository-init Function.
const InitName = "repository-init"

// OutputCreated is "true" when repository-init created the repository.
const OutputCreated = outputs.RepositoryCreated

// maxForget bounds the ids one run forgets (each is an argument of restic).
const maxForget = 100

// Init is the repository-init Function: it opens the repository and, with
// --create (the default), initialises it if it does not exist yet, under the
// init lock; it forgets the snapshots named by --forget (restic forget
// --prune <id>...); then it reports what the repository holds (snapshot
// count, stored size, times of the oldest and newest snapshot, and the
// snapshots themselves, bounded: outputs.SnapshotList). The Repository
// controller runs it once before any session uses a Repository, and again
// to refresh the Repository's status and its Snapshot objects; with
// --create=false (a Repository no backup uses) a missing repository is
// reported as exists=false, not created.
type Init struct {
	create bool
	forget []string
	prune  bool
}

// NewInit returns a fresh repository-init Function.
func NewInit() *Init { return &Init{create: true, prune: true} }

// Description implements step.Describer.
func (*Init) Description() string {
	return "open the restic repository, initialise it if it does not exist yet (restic init, once, under the init lock), forget the snapshots asked for, and report its snapshots and size"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (*Init) DeclaredOutputs() []string {
	return []string{outputs.RepositoryCreated, outputs.RepositoryExists, outputs.SnapshotCount, outputs.TotalSize,
		outputs.FirstSnapshotTime, outputs.LastSnapshotTime, outputs.Snapshots, outputs.ForgottenIDs}
}

// Flags implements step.Function.
func (f *Init) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.create, "create", true, "initialise the repository if the backend holds none (false: report exists=false)")
	fs.StringSliceVar(&f.forget, "forget", nil, fmt.Sprintf("snapshot ids to forget (restic forget <id>), comma separated or repeated, at most %d", maxForget))
	fs.BoolVar(&f.prune, "prune", true, "prune the repository after forgetting --forget's snapshots")
}

var reSnapshotID = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// Validate implements step.Function.
func (f *Init) Validate() error {
	if len(f.forget) > maxForget {
		return fmt.Errorf("--forget: %d ids, at most %d in one run", len(f.forget), maxForget)
	}
	for _, id := range f.forget {
		if !reSnapshotID.MatchString(id) {
			return fmt.Errorf("--forget: %q is not a snapshot id (8 to 64 lower-case hex digits)", id)
		}
	}
	return nil
}

// Run implements step.Function.
func (f *Init) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	// Most runs find the repository: list its snapshots first, and take
	// the init path (under the init lock) only when the backend holds none.
	created := false
	snaps, err := repo.Snapshots(ctx, restic.Filter{})
	if restic.IsKind(err, restic.KindNoRepository) {
		if !f.create {
			env.Logger().Info("no repository in the backend, not created")
			// Nothing holds the snapshots asked to be forgotten.
			return step.Outputs{outputs.RepositoryCreated: "false", outputs.RepositoryExists: "false",
				outputs.ForgottenIDs: jsonList(f.forget)}, nil
		}
		if created, err = repo.EnsureRepository(ctx); err != nil {
			return nil, err
		}
		snaps, err = repo.Snapshots(ctx, restic.Filter{})
	}
	if err != nil {
		return nil, err
	}
	if snaps, err = f.forgetSnapshots(ctx, env, repo, snaps); err != nil {
		return nil, err
	}
	st, err := repo.Stats(ctx, "raw-data")
	if err != nil {
		return nil, err
	}
	list, err := json.Marshal(SnapshotList(snaps, outputs.MaxSnapshotListBytes))
	if err != nil {
		return nil, err
	}
	out := step.Outputs{
		outputs.RepositoryCreated: strconv.FormatBool(created),
		outputs.RepositoryExists:  "true",
		outputs.SnapshotCount:     strconv.Itoa(len(snaps)),
		outputs.TotalSize:         strconv.FormatUint(st.TotalSize, 10),
		outputs.Snapshots:         string(list),
		outputs.ForgottenIDs:      jsonList(gone(f.forget, snaps)),
	}
	if len(snaps) > 0 { // oldest first
		out[outputs.FirstSnapshotTime] = snaps[0].Time.UTC().Format(time.RFC3339)
		out[outputs.LastSnapshotTime] = snaps[len(snaps)-1].Time.UTC().Format(time.RFC3339)
	}
	env.Logger().Info("repository ready", "created", created, "snapshots", len(snaps))
	return out, nil
}

// forgetSnapshots forgets those of --forget's snapshots the repository
// holds and returns what it holds afterwards.
func (f *Init) forgetSnapshots(ctx context.Context, env *step.Env, repo *restic.Client, snaps []restic.Snapshot) ([]restic.Snapshot, error) {
	var ids []string
	for _, sn := range snaps {
		if slices.ContainsFunc(f.forget, func(id string) bool { return strings.HasPrefix(sn.ID, id) }) {
			ids = append(ids, sn.ID)
		}
	}
	if len(ids) == 0 {
		return snaps, nil
	}
	if err := repo.ForgetIDs(ctx, ids, f.prune); err != nil {
		return nil, err
	}
	env.Logger().Info("snapshots forgotten", "count", len(ids), "pruned", f.prune)
	return repo.Snapshots(ctx, restic.Filter{})
}

// gone are the ids of want that no snapshot of snaps has.
func gone(want []string, snaps []restic.Snapshot) []string {
	out := []string{}
	for _, id := range want {
		if !slices.ContainsFunc(snaps, func(sn restic.Snapshot) bool { return strings.HasPrefix(sn.ID, id) }) {
			out = append(out, id)
		}
	}
	return out
}

func jsonList(ids []string) string {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// SnapshotList is the compact list of snaps (oldest first), newest first
// while its JSON stays within limit bytes; when older snapshots are left
// out, Since is the time of the oldest listed one.
func SnapshotList(snaps []restic.Snapshot, limit int) outputs.SnapshotList {
	l := outputs.SnapshotList{Complete: true, Items: []outputs.SnapshotRecord{}}
	size := len(`{"complete":false,"since":"2006-01-02T15:04:05.999999999Z07:00","items":[]}`)
	for i := len(snaps) - 1; i >= 0; i-- {
		rec := record(snaps[i])
		b, _ := json.Marshal(rec)
		if size+len(b)+1 > limit {
			l.Complete = false
			break
		}
		size += len(b) + 1
		l.Items = append(l.Items, rec)
	}
	if !l.Complete && len(l.Items) > 0 {
		since := l.Items[len(l.Items)-1].Time
		l.Since = &since
	}
	return l
}

func record(sn restic.Snapshot) outputs.SnapshotRecord {
	r := outputs.SnapshotRecord{ID: sn.ID, Time: sn.Time, Hostname: sn.Hostname, Tree: sn.Tree,
		Username: sn.Username, UID: ptr.To(int64(sn.UID)), GID: ptr.To(int64(sn.GID)),
		Paths: sn.Paths[:min(len(sn.Paths), outputs.MaxRecordPaths)],
		Tags:  sn.Tags[:min(len(sn.Tags), outputs.MaxRecordTags)]}
	if sn.Summary != nil {
		size := sn.Summary.TotalBytesProcessed
		r.Size = &size
	}
	return r
}
