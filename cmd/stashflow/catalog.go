package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/resolve"
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
	var kube *kubeFlags
	install := &cobra.Command{
		Use:   "install",
		Short: "Apply the built-in Tasks and Functions to the cluster (server-side apply)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			cl, err := kube.client()
			if err != nil {
				return err
			}
			return installCatalog(c.Context(), c.OutOrStdout(), cl, cat, dryRun)
		},
	}
	install.Flags().BoolVar(&dryRun, "dry-run", false, "ask the server to validate only")
	kube = addKubeFlags(install.Flags())
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
	if dryRun {
		cl = client.NewDryRunClient(cl)
	}
	// The operator's own installer: a user's object of a catalog name (one
	// without the catalog label) is left alone.
	if err := controllers.InstallBuiltins(ctx, cl, cl, resolve.Builtins{Functions: cat.Functions, Tasks: cat.Tasks}); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d Functions and %d Tasks applied (objects of the same name without the %s=%s label were kept)\n",
		len(cat.Functions), len(cat.Tasks), catalog.Label, catalog.LabelValue)
	return nil
}
