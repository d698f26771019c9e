package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

func init() { subcommands = append(subcommands, newTriggerCommand) }

func newTriggerCommand() *cobra.Command {
	var (
		kube    *kubeFlags
		out     *printFlags
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "trigger (backupconfiguration|backupbatch)/NAME",
		Short: "Start a backup now: create a BackupSession for the invoker",
		Long: `Start a backup now: create a BackupSession for the invoker, named by the
API server (<name>-manual-<suffix>), so triggers in the same second never
collide. With --wait, follow the session until it ends and exit 1 unless it
Succeeded. With -o, the session is printed instead of the line: as created,
or with --wait as it ended.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			kind, name, inv, err := invokerObject(args[0])
			if err != nil {
				return err
			}
			cl, namespace, err := kube.get(c.Context(), kind, name, inv)
			if err != nil {
				return err
			}
			s := &v1alpha1.BackupSession{
				ObjectMeta: metav1.ObjectMeta{
					GenerateName: manualPrefix(name),
					Namespace:    namespace,
					Labels: map[string]string{
						v1alpha1.LabelInvoker: name, v1alpha1.LabelInvokerKind: kind,
					},
					Annotations: map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerManual},
				},
				Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupName, Kind: kind, Name: name}},
			}
			if err := cl.Create(c.Context(), s); err != nil {
				return err
			}
			if !wait {
				return printCreated(c.OutOrStdout(), out, s)
			}
			return waitForSession(c, cl, s, out, timeout)
		},
	}
	kube = addKubeFlags(cmd)
	cmd.ValidArgsFunction = completeRefs(kube, v1alpha1.KindBackupConfiguration, v1alpha1.KindBackupBatch)
	out = addPrintFlags(cmd, "", `"backupsession/NAME created" (default)`, "")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the session until it ends; exit 1 unless it Succeeded")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up after this long (0: no limit)")
	return cmd
}

// manualPrefix is the generateName of a triggered session: the invoker's
// name cut so that the generated name (5 more characters) stays a valid
// label value (the session's name labels its Workflow and steps).
func manualPrefix(invoker string) string {
	const suffix = "-manual-"
	if limit := validation.LabelValueMaxLength - 5 - len(suffix); len(invoker) > limit {
		invoker = strings.TrimRight(invoker[:limit], "-.")
	}
	return invoker + suffix
}

// waitForSession prints the session's phase changes until it ends, then
// its final line; a session that did not succeed is an error (exit 1).
func waitForSession(c *cobra.Command, cl client.Client, s *v1alpha1.BackupSession, out *printFlags, timeout time.Duration) error {
	return waitForRun(c, cl, s, "BackupSession", out, timeout, func() runState {
		st := s.Status
		return runState{string(st.Phase), st.Phase.IsFinal(), st.Phase == v1alpha1.BackupSessionSucceeded, st.SessionDuration, st.Message}
	})
}

// runState is what waitForRun reads of a session after each Get.
type runState struct {
	phase            string
	final, succeeded bool
	took, message    string
}

// waitForRun follows obj (re-read every second) until state says it is
// final, printing each phase change on stderr and the last line on stdout
// (with -o, the object as it ended); a run that did not succeed is an error
// (exit 1).
func waitForRun(c *cobra.Command, cl client.Client, obj client.Object, kind string, out *printFlags, timeout time.Duration, state func() runState) error {
	ctx := c.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	key := client.ObjectKeyFromObject(obj)
	ref := strings.ToLower(kind) + "/" + obj.GetName()
	created := c.OutOrStdout()
	if !out.isOwn() {
		created = c.ErrOrStderr() // stdout is the object's
	}
	fmt.Fprintf(created, "%s created\n", ref)
	last := ""
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, key, obj); err != nil {
			return false, fmt.Errorf("reading %s %s: %w", kind, key, err)
		}
		st := state()
		if st.phase != last && st.phase != "" {
			last = st.phase
			fmt.Fprintf(c.ErrOrStderr(), "%s %s\n", ref, st.phase)
		}
		return st.final, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s %s (last seen %s): %w", kind, key, orDash(last), err)
	}
	st := state()
	if out.isOwn() {
		fmt.Fprintf(c.OutOrStdout(), "%s %s %s %s\n", ref, st.phase, st.took, st.message)
	} else if err := out.print(c.OutOrStdout(), false, obj); err != nil {
		return err
	}
	if !st.succeeded {
		return fmt.Errorf("%s %s ended %s: %s", kind, key, st.phase, st.message)
	}
	return nil
}

// printCreated prints an object the command created: "kind/name created"
// by default, else as -o says.
func printCreated(w io.Writer, out *printFlags, obj client.Object) error {
	if out.isOwn() {
		kind := strings.ToLower(reflect.TypeOf(obj).Elem().Name())
		_, err := fmt.Fprintf(w, "%s/%s created\n", kind, obj.GetName())
		return err
	}
	return out.print(w, false, obj)
}
