package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/stashflow/stashflow/internal/manifest"
)

// printFlags is -o of a command that prints objects, read as kubectl reads
// it: k8s.io/cli-runtime's printers for yaml, json, name, jsonpath=…,
// jsonpath-as-json=…, jsonpath-file=…, go-template=…, go-template-file=…,
// template=… and templatefile=…, custom-columns=… (kubectl's syntax,
// HEADER:JSONPATH,…), and the command's own formats (its table, wide, none…).
type printFlags struct {
	output  string
	own     []string // the command's own formats; "" is its default table
	kubectl *genericclioptions.PrintFlags
}

// addPrintFlags registers -o, completed with its values, with def as its
// default; own are the formats the command prints itself, described in help.
func addPrintFlags(cmd *cobra.Command, def, help string, own ...string) *printFlags {
	p := &printFlags{own: own, kubectl: genericclioptions.NewPrintFlags("")}
	p.kubectl.OutputFormat = &p.output
	cmd.Flags().StringVarP(&p.output, "output", "o", def, help+"; or "+strings.Join(kubectlFormats(p.kubectl), ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", p.completeOutput)
	return p
}

// kubectlFormats are the formats of cli-runtime's printers and
// custom-columns, those taking an argument written with "=…".
func kubectlFormats(pf *genericclioptions.PrintFlags) []string {
	var out []string
	for _, f := range pf.AllowedFormats() {
		if f != "json" && f != "yaml" && f != "name" {
			f += "=…"
		}
		out = append(out, f)
	}
	return append(out, "custom-columns=…")
}

// isOwn says whether -o is one of the command's own formats.
func (p *printFlags) isOwn() bool { return slices.Contains(p.own, p.output) }

// check is a usage error (exit 2) for an -o no printer takes, naming the
// allowed values, or whose template does not parse. Commands call it
// before they do anything.
func (p *printFlags) check() error {
	if p.isOwn() {
		return nil
	}
	_, err := p.printer()
	return err
}

func (p *printFlags) printer() (printers.ResourcePrinter, error) {
	if spec, ok := strings.CutPrefix(p.output, "custom-columns="); ok {
		cols, err := parseCustomColumns(spec)
		if err != nil {
			return nil, usageError{fmt.Errorf("--output custom-columns: %w", err)}
		}
		return cols, nil
	}
	pr, err := p.kubectl.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		var allowed []string
		for _, f := range p.own {
			if f != "" {
				allowed = append(allowed, f)
			}
		}
		allowed = append(allowed, kubectlFormats(p.kubectl)...)
		return nil, usageError{fmt.Errorf("--output: %q is not one of %s", p.output, strings.Join(allowed, ", "))}
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("--output %s: %w", p.output, err)}
	}
	return pr, nil
}

// print prints objs with a printer of -o (not the command's own formats):
// a List when asList or when there are several, else the one object.
func (p *printFlags) print(w io.Writer, asList bool, objs ...client.Object) error {
	pr, err := p.printer()
	if err != nil {
		return err
	}
	return printObjects(w, pr, asList, objs...)
}

// printObjects prints objs with pr, their apiVersion and kind set from the
// scheme (a typed client leaves them empty): a v1 List, as kubectl prints
// several objects, when asList or when there are several.
func printObjects(w io.Writer, pr printers.ResourcePrinter, asList bool, objs ...client.Object) error {
	for _, o := range objs {
		if o.GetObjectKind().GroupVersionKind().Empty() {
			gvk, err := apiutil.GVKForObject(o, manifest.Scheme())
			if err != nil {
				return err
			}
			o.GetObjectKind().SetGroupVersionKind(gvk)
		}
	}
	if _, byName := pr.(*printers.NamePrinter); byName || (len(objs) == 1 && !asList) {
		// A name a line; cli-runtime's name printer takes no List.
		for _, o := range objs {
			if err := pr.PrintObj(o, w); err != nil {
				return err
			}
		}
		return nil
	}
	return pr.PrintObj(objectList(objs...), w)
}

// objectList is objs as a v1 List, what kubectl get -o yaml prints.
func objectList(objs ...client.Object) *metav1.List {
	list := &metav1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}, Items: []runtime.RawExtension{}}
	for _, o := range objs {
		list.Items = append(list.Items, runtime.RawExtension{Object: o})
	}
	return list
}

// customColumns prints a table of the columns kubectl's -o
// custom-columns=HEADER:JSONPATH,… names, a row per object (per item of a
// list); a path that finds nothing is <none>.
type customColumns struct {
	headers []string
	paths   []*jsonpath.JSONPath
}

func parseCustomColumns(spec string) (*customColumns, error) {
	c := &customColumns{}
	if spec == "" {
		return nil, errors.New("give columns as HEADER:JSONPATH,… e.g. NAME:.metadata.name")
	}
	for _, col := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(col, ":")
		if !ok || header == "" || path == "" {
			return nil, fmt.Errorf("%q is not HEADER:JSONPATH", col)
		}
		jp := jsonpath.New(header).AllowMissingKeys(true)
		if err := jp.Parse(relaxedJSONPath(path)); err != nil {
			return nil, fmt.Errorf("column %s: %w", header, err)
		}
		c.headers = append(c.headers, header)
		c.paths = append(c.paths, jp)
	}
	return c, nil
}

// relaxedJSONPath accepts a path as kubectl's custom-columns do: with or
// without the braces and the leading dot.
func relaxedJSONPath(path string) string {
	path = strings.TrimSuffix(strings.TrimPrefix(path, "{"), "}")
	if !strings.HasPrefix(path, ".") {
		path = "." + path
	}
	return "{" + path + "}"
}

func (c *customColumns) PrintObj(obj runtime.Object, w io.Writer) error {
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(c.headers, "\t"))
	for _, item := range items {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(item)
		if err != nil {
			return err
		}
		cells := make([]string, 0, len(c.paths))
		for _, jp := range c.paths {
			results, err := jp.FindResults(u)
			if err != nil {
				return err
			}
			var values []string
			for _, r := range results {
				for _, v := range r {
					var b bytes.Buffer
					if err := jp.PrintResults(&b, []reflect.Value{v}); err != nil {
						return err
					}
					values = append(values, b.String())
				}
			}
			cell := strings.Join(values, ",")
			if cell == "" {
				cell = "<none>"
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// completeOutput completes -o: the command's own formats, then the
// printers' (those with an argument end in "=").
func (p *printFlags) completeOutput(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, f := range p.own {
		if f != "" {
			out = append(out, f)
		}
	}
	for _, f := range kubectlFormats(p.kubectl) {
		out = append(out, strings.TrimSuffix(f, "…"))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
