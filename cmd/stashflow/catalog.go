package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	var listOut, showOut *printFlags
	list := &cobra.Command{
		Use:   "list [-o wide|yaml|json|name|jsonpath=…|custom-columns=…]",
		Short: "List the built-in Tasks and Functions",
		Long: `List the built-in Tasks (with their steps) and Functions (with what they do) as a table;
-o wide adds each Function's image and outputs; -o yaml, json, name, jsonpath and custom-columns
print the Tasks and Functions as a List.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := listOut.check(); err != nil {
				return err
			}
			cat, err := catalog.Load()
			if err != nil {
				return err
			}
			return listCatalog(c.OutOrStdout(), listOut, cat)
		},
	}
	listOut = addPrintFlags(list, "", "the table (default), wide (with images and outputs)", "", "wide")
	cmd.AddCommand(list)
	show := &cobra.Command{
		Use:               "show NAME [-o yaml|json|name|jsonpath=…|custom-columns=…]",
		ValidArgsFunction: completeCatalogNames,
		Short:             "Print a built-in Task or Function (a Task's Functions too): one object, or a List",
		Args:              cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := showOut.check(); err != nil {
				return err
			}
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
			return showOut.print(c.OutOrStdout(), false, objs...)
		},
	}
	showOut = addPrintFlags(show, "yaml", "yaml (default)")
	cmd.AddCommand(show)
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
	kube = addKubeFlags(install)
	cmd.AddCommand(install)
	return cmd
}

// listCatalog prints the catalog's Tasks then Functions, by name, as -o
// says: the table (wide: with each Function's image and outputs), or a List.
func listCatalog(w io.Writer, out *printFlags, cat *catalog.Catalog) error {
	if !out.isOwn() {
		var objs []client.Object
		for _, name := range cat.TaskNames() {
			objs = append(objs, cat.Tasks[name])
		}
		for _, name := range cat.FunctionNames() {
			objs = append(objs, cat.Functions[name])
		}
		return out.print(w, true, objs...)
	}
	wide := out.output == "wide"
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "KIND\tNAME\tDESCRIPTION"
	if wide {
		header += "\tIMAGE\tOUTPUTS"
	}
	fmt.Fprintln(tw, header)
	for _, name := range cat.TaskNames() {
		steps := make([]string, 0, len(cat.Tasks[name].Spec.Steps))
		for _, s := range cat.Tasks[name].Spec.Steps {
			steps = append(steps, s.Name)
		}
		row := "Task\t" + name + "\t" + strings.Join(steps, " → ")
		if wide {
			row += "\t-\t-"
		}
		fmt.Fprintln(tw, row)
	}
	for _, name := range cat.FunctionNames() {
		f := cat.Functions[name]
		row := "Function\t" + name + "\t" + f.Annotations["stashflow.dev/description"]
		if wide {
			outputs := make([]string, 0, len(f.Spec.Outputs))
			for _, o := range f.Spec.Outputs {
				outputs = append(outputs, o.Name)
			}
			row += "\t" + orDash(f.Spec.Image) + "\t" + orDash(strings.Join(outputs, ","))
		}
		fmt.Fprintln(tw, row)
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
