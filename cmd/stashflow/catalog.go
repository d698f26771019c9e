package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
)

func init() { subcommands = append(subcommands, newCatalogCommand) }

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog (list|show NAME|install)",
		Short: "The built-in Functions and Tasks",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in Tasks and Functions",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			return listCatalog(c.OutOrStdout(), cat)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show NAME",
		Short: "Print a built-in Task or Function (a Task's Functions too) as YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			var objs []client.Object
			if t := cat.Tasks[args[0]]; t != nil {
				objs = append(objs, t)
				for _, s := range t.Spec.Steps {
					if f := cat.Functions[s.Name]; f != nil {
						objs = append(objs, f)
					}
				}
			} else if f := cat.Functions[args[0]]; f != nil {
				objs = append(objs, f)
			} else {
				return usageError{fmt.Errorf("%q is not a built-in Task or Function (see stashflow catalog list)", args[0])}
			}
			for _, o := range objs {
				b, err := yaml.Marshal(o)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "---\n%s", b)
			}
			return nil
		},
	})
	var dryRun bool
	install := &cobra.Command{
		Use:   "install",
		Short: "Apply the built-in Tasks and Functions to the cluster (server-side apply)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			cl, err := clusterClient()
			if err != nil {
				return err
			}
			return installCatalog(c.Context(), c.OutOrStdout(), cl, cat, dryRun)
		},
	}
	install.Flags().BoolVar(&dryRun, "dry-run", false, "ask the server to validate only")
	cmd.AddCommand(install)
	return cmd
}

func listCatalog(w io.Writer, cat *catalog.Catalog) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tDESCRIPTION")
	for _, name := range cat.TaskNames() {
		steps := ""
		for i, s := range cat.Tasks[name].Spec.Steps {
			if i > 0 {
				steps += " → "
			}
			steps += s.Name
		}
		fmt.Fprintf(tw, "Task\t%s\t%s\n", name, steps)
	}
	for _, name := range cat.FunctionNames() {
		fmt.Fprintf(tw, "Function\t%s\t%s\n", name, cat.Functions[name].Annotations["stashflow.dev/description"])
	}
	return tw.Flush()
}

func installCatalog(ctx context.Context, w io.Writer, cl client.Client, cat *catalog.Catalog, dryRun bool) error {
	var objs []client.Object
	for _, n := range cat.FunctionNames() {
		objs = append(objs, cat.Functions[n].DeepCopy())
	}
	for _, n := range cat.TaskNames() {
		objs = append(objs, cat.Tasks[n].DeepCopy())
	}
	opts := []client.PatchOption{client.FieldOwner("stashflow"), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	for _, o := range objs {
		o.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kindName(o)))
		o.SetResourceVersion("")
		if err := cl.Patch(ctx, o, client.Apply, opts...); err != nil {
			return fmt.Errorf("%s %s: %w", kindName(o), o.GetName(), err)
		}
		fmt.Fprintf(w, "%s/%s applied\n", kindName(o), o.GetName())
	}
	return nil
}

func kindName(o client.Object) string {
	switch o.(type) {
	case *v1alpha1.Task:
		return "Task"
	case *v1alpha1.Function:
		return "Function"
	}
	return o.GetObjectKind().GroupVersionKind().Kind
}
