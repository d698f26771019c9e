package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

func init() { subcommands = append(subcommands, newTriggerCommand) }

func newTriggerCommand() *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "trigger (backupconfiguration|backupbatch)/NAME",
		Short: "Start a backup now: create a BackupSession for the invoker",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			kind, name, ok := strings.Cut(args[0], "/")
			if !ok || name == "" {
				return usageError{fmt.Errorf("%q: want KIND/NAME, e.g. backupconfiguration/nightly", args[0])}
			}
			var inv client.Object
			switch strings.ToLower(kind) {
			case "backupconfiguration", "backupconfigurations", "bc":
				kind, inv = v1alpha1.KindBackupConfiguration, &v1alpha1.BackupConfiguration{}
			case "backupbatch", "backupbatches", "bb":
				kind, inv = v1alpha1.KindBackupBatch, &v1alpha1.BackupBatch{}
			default:
				return usageError{fmt.Errorf("%q: not backupconfiguration or backupbatch", kind)}
			}
			cl, err := clusterClient()
			if err != nil {
				return err
			}
			if err := cl.Get(c.Context(), client.ObjectKey{Namespace: namespace, Name: name}, inv); err != nil {
				return err
			}
			now := time.Now()
			s := &v1alpha1.BackupSession{
				ObjectMeta: metav1.ObjectMeta{
					Name:      fmt.Sprintf("%s-manual-%d", name, now.Unix()),
					Namespace: namespace,
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
			fmt.Fprintf(c.OutOrStdout(), "backupsession/%s created\n", s.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "the invoker's namespace")
	return cmd
}
