package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
)

func init() { subcommands = append(subcommands, newRunCommand) }

// runFailed is a session that ran and did not succeed: exit 1, the session
// already printed.
type runFailed struct{ n int }

func (e runFailed) Error() string { return fmt.Sprintf("%d session(s) did not succeed", e.n) }
func (runFailed) ExitCode() int   { return exitFailed }

type runOptions struct {
	files    []string
	print    *printFlags
	workDir  string
	volumes  []string
	schedule bool
	quiet    bool
	dryRun   bool
}

func newRunCommand() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run -f FILE|DIR [-f ...]",
		Short: "Run sessions from YAML on this machine, no Kubernetes needed",
		Long: `Run reads the same YAML a cluster would accept — Secrets, Repositories, AppBindings,
BackupConfigurations, BackupBatches, BackupSessions, RestoreSessions, RestoreBatches, and your own
Tasks and Functions (the built-in catalog is always there) — and runs each session on the local
engine, showing every step as it goes. With no session in the files, it runs one backup of each
BackupConfiguration and BackupBatch now; with --schedule it keeps running and fires them on their
schedules. The finished sessions are printed with their status filled as the operator fills it.
With --dry-run nothing runs: the sessions are translated and printed as "stashflow plan" prints them.
Exit code 1 when a session did not succeed, 2 for bad input.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.dryRun {
				return o.plan(c)
			}
			return o.run(c.Context(), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "YAML file or directory (repeatable)")
	o.print = addPrintFlags(cmd, "yaml", "how to print the finished sessions (one as itself, several as a List): yaml (default), none", "none")
	f.StringVar(&o.workDir, "work-dir", "", "where step logs and outputs are kept (default: $XDG_CACHE_HOME or ~/.cache, then stashflow/run)")
	f.StringArrayVar(&o.volumes, "volume", nil, "map a volume of the run to a directory, as name=dir: a claim by its name (a PVC target, a workload's claim such as data-db-0), or a graph volume (PVC targets are also target-<n>)")
	f.BoolVar(&o.schedule, "schedule", false, "keep running and fire BackupConfigurations and BackupBatches on their schedules")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines")
	f.BoolVar(&o.dryRun, "dry-run", false, "run nothing: print the plan of every session, as stashflow plan (-o text by default, yaml, json, argo or none)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func (o *runOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	printer, err := o.printer()
	if err != nil {
		return err
	}
	volumes, err := parseVolumes(o.volumes)
	if err != nil {
		return err
	}
	in, err := localrun.Load(o.files...)
	if err != nil {
		return usageError{err}
	}
	opts := localrun.Options{WorkDir: o.workDir, Volumes: volumes, Warn: func(s client.Object, w string) {
		fmt.Fprintf(stderr, "warning: %s %s: %s\n", kindOf(s), s.GetName(), w)
	}}
	var pr *progress
	if !o.quiet {
		pr = newProgress(stderr, !o.schedule && isTerminal(stderr))
		defer pr.stop()
		opts.Progress = pr.print
	}
	if o.schedule {
		return o.runScheduled(ctx, in, opts, printer, stdout, stderr)
	}
	sessions, err := in.Sessions(time.Now())
	if err != nil {
		return usageError{err}
	}
	failed := 0
	var done []client.Object
	for _, s := range sessions {
		res, err := in.Run(ctx, s, opts)
		pr.hide() // what follows is printed where the bar was
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return usageError{err}
		}
		if res.Failed() {
			failed++
		}
		done = append(done, res.Session)
		if !o.quiet || res.Failed() {
			// Why a session failed is said under -q too: with -o none it
			// is printed nowhere else.
			phase := string(res.Outcome.Phase)
			if res.Failed() && res.Outcome.Message != "" {
				phase += ": " + res.Outcome.Message
			}
			fmt.Fprintf(stderr, "%s %s: %s (logs in %s)\n", kindOf(res.Session), res.Session.GetName(), phase, res.WorkDir)
		}
	}
	if printer != nil {
		if err := printObjects(stdout, printer, false, done...); err != nil {
			return err
		}
	}
	if failed > 0 {
		return runFailed{failed}
	}
	return nil
}

// plan is --dry-run: stashflow plan with run's files, volumes and output
// (text unless -o is given).
func (o *runOptions) plan(c *cobra.Command) error {
	if o.schedule {
		return usageError{errors.New("--dry-run and --schedule: give --dry-run alone, it plans one session of each BackupConfiguration and BackupBatch")}
	}
	p := &planOptions{files: o.files, output: o.print.output, volumes: o.volumes, image: defaultImage()}
	if !c.Flags().Changed("output") {
		p.output = "text"
	}
	return p.plan(c.Context(), c.OutOrStdout(), c.ErrOrStderr())
}

// printer prints the finished sessions as -o says; nil for -o none.
func (o *runOptions) printer() (printers.ResourcePrinter, error) {
	if err := o.print.check(); err != nil || o.print.output == "none" {
		return nil, err
	}
	return o.print.printer()
}

// runScheduled fires every BackupConfiguration and BackupBatch that is not
// paused on its schedule, one session at a time per invoker, until ctx ends.
// Each finished session is printed as it ends, an object at a time (with
// -o yaml, documents separated by ---, as kubectl get --watch prints them).
func (o *runOptions) runScheduled(ctx context.Context, in *localrun.Inputs, opts localrun.Options, pr printers.ResourcePrinter, stdout, stderr io.Writer) error {
	type invoker struct {
		kind, ns, name string
		sched          cron.Schedule
	}
	parser := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	var invokers []invoker
	add := func(obj client.Object, kind, schedule string, paused bool) error {
		if paused {
			fmt.Fprintf(stderr, "%s %s/%s is paused: not scheduled\n", kind, obj.GetNamespace(), obj.GetName())
			return nil
		}
		s, err := parser.Parse(schedule)
		if err != nil {
			return fmt.Errorf("%s %s/%s: spec.schedule: %w", kind, obj.GetNamespace(), obj.GetName(), err)
		}
		invokers = append(invokers, invoker{kind, obj.GetNamespace(), obj.GetName(), s})
		return nil
	}
	for _, c := range manifest.Of[*v1alpha1.BackupConfiguration](in.Set) {
		if err := add(c, v1alpha1.KindBackupConfiguration, c.Spec.Schedule, c.Spec.Paused); err != nil {
			return usageError{err}
		}
	}
	for _, b := range manifest.Of[*v1alpha1.BackupBatch](in.Set) {
		if err := add(b, v1alpha1.KindBackupBatch, b.Spec.Schedule, b.Spec.Paused); err != nil {
			return usageError{err}
		}
	}
	if len(invokers) == 0 {
		return usageError{errors.New("--schedule: the files hold no BackupConfiguration or BackupBatch to schedule")}
	}
	var mu sync.Mutex // one printer for all invokers
	var wg sync.WaitGroup
	for _, inv := range invokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next := inv.sched.Next(time.Now()); ; next = inv.sched.Next(time.Now()) {
				fmt.Fprintf(stderr, "%s %s/%s: next backup at %s\n", inv.kind, inv.ns, inv.name, next.Format(time.RFC3339))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				s := localrun.NewBackupSession(inv.ns, inv.kind, inv.name, next)
				res, err := in.Run(ctx, s, opts)
				mu.Lock()
				if err != nil {
					fmt.Fprintf(stderr, "%s %s/%s: %v\n", inv.kind, inv.ns, inv.name, err)
				} else {
					if pr != nil {
						_ = printObjects(stdout, pr, false, res.Session)
					}
					fmt.Fprintf(stderr, "BackupSession %s: %s\n", s.Name, res.Outcome.Phase)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return nil
}

func kindOf(o client.Object) string { return o.GetObjectKind().GroupVersionKind().Kind }
