package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

func init() { subcommands = append(subcommands, newPlanCommand) }

// planOptions are the flags of `stashflow plan`, which `stashflow run
// --dry-run` shares.
type planOptions struct {
	files   []string
	output  string
	volumes []string
	image   string
}

// planned is one session the files would run, translated.
type planned struct {
	session client.Object
	plan    *translators.Plan
}

func newPlanCommand() *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan -f FILE|DIR [-f ...] [-o text|yaml|json|argo|none]",
		Short: "Show the DAG of every session `run -f` would run, without running anything",
		Long: `Plan reads the files exactly as "stashflow run -f" reads them — the same sessions, the same
validation against the CRDs' schemas and CEL rules, the same errors — and translates every session
without running it: no step starts, nothing is written to a repository or a work directory.
"stashflow run --dry-run" is the same command.

-o text (the default) prints each session's DAG as a tree: targets with their hooks and steps, each
step's dependencies and when they let it run, and the translation's warnings. -o yaml (or json)
prints each session's run record (the plan a session stores in status.plan). -o argo prints the
Argo Workflow the operator (--engine=argo) would submit for each session, translated as the operator
translates it. No output holds a secret's value: plans only refer to Secrets.
Exit code 2 for bad input, as for run.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.plan(c.Context(), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "YAML file or directory (repeatable)")
	f.StringVarP(&o.output, "output", "o", "text", "text (the DAG as a tree), yaml or json (the run records), argo (the Argo Workflows), or none")
	f.StringArrayVar(&o.volumes, "volume", nil, "as for run: map a claim or graph volume to a directory, name=dir; a claim the run could not map is a warning")
	f.StringVar(&o.image, "image", defaultImage(), "-o argo: the stashflow image, as the operator's --image")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// plan translates every session the files would run, then prints them all;
// the first session that cannot be translated is the error (nothing printed).
func (o *planOptions) plan(ctx context.Context, stdout, stderr io.Writer) error {
	switch o.output {
	case "text", "yaml", "json", "argo", "none":
	default:
		return usageError{fmt.Errorf("--output: %q is not text, yaml, json, argo or none", o.output)}
	}
	volumes, err := parseVolumes(o.volumes)
	if err != nil {
		return err
	}
	in, err := localrun.Load(o.files...)
	if err != nil {
		return usageError{err}
	}
	sessions, err := in.Sessions(time.Now())
	if err != nil {
		return usageError{err}
	}
	// What `run` translates, with its errors: the local engine's plan.
	var plans []planned
	for _, s := range sessions {
		p, err := in.Plan(s, translators.Options{})
		if err != nil {
			return usageError{err}
		}
		plans = append(plans, planned{session: s, plan: p})
	}
	if o.output == "argo" {
		return o.printArgo(ctx, stdout, stderr, in, plans)
	}
	for i, p := range plans {
		warnings := append(append([]string(nil), p.plan.Warnings...), unmappedClaims(p.plan.Graph, volumes)...)
		if o.output == "text" {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			printPlanTree(stdout, p.session, p.plan.Record())
			printWarnings(stdout, p.session, warnings)
			continue
		}
		printWarnings(stderr, p.session, warnings)
		if err := printRecord(stdout, o.output, p.session, p.plan.Record()); err != nil {
			return err
		}
	}
	return nil
}

// parseVolumes reads --volume name=dir flags.
func parseVolumes(flags []string) (map[string]string, error) {
	volumes := map[string]string{}
	for _, v := range flags {
		name, dir, ok := strings.Cut(v, "=")
		if !ok || name == "" || dir == "" {
			return nil, usageError{fmt.Errorf("--volume: %q is not name=dir", v)}
		}
		volumes[name] = dir
	}
	return volumes, nil
}

// unmappedClaims are the claims a step mounts that no --volume maps to a
// directory: the local engine refuses to start the run until one does.
func unmappedClaims(g *pipeline.Graph, volumes map[string]string) []string {
	mounted := map[string]bool{}
	for i := range g.Steps {
		for _, m := range g.Steps[i].Process.VolumeMounts {
			mounted[m.Name] = true
		}
	}
	var out []string
	for _, v := range g.Volumes {
		c := v.PersistentVolumeClaim
		if c == nil || !mounted[v.Name] {
			continue
		}
		if _, ok := volumes[v.Name]; ok {
			continue
		}
		if _, ok := volumes[c.ClaimName]; ok {
			continue
		}
		out = append(out, fmt.Sprintf("volume %q (persistentVolumeClaim %q) has no host directory on this machine: the run needs --volume %s=DIR", v.Name, c.ClaimName, c.ClaimName))
	}
	return out
}

func printWarnings(w io.Writer, s client.Object, warnings []string) {
	for _, msg := range warnings {
		fmt.Fprintf(w, "warning: %s %s: %s\n", kindOf(s), s.GetName(), msg)
	}
}

// printRecord prints a session's run record as a YAML document (headed by a
// comment naming the session) or as JSON.
func printRecord(w io.Writer, format string, s client.Object, rec *v1alpha1.RunPlan) error {
	return printDoc(w, format, rec, fmt.Sprintf("# %s %s/%s\n", kindOf(s), s.GetNamespace(), s.GetName()))
}

// printDoc prints v in the format of -o: nothing, indented JSON, or a YAML
// document after header.
func printDoc(w io.Writer, format string, v any, header string) error {
	switch format {
	case "none":
		return nil
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "---\n%s%s", header, b)
	return err
}

// printPlanTree prints a session's run record as a tree, as describe prints
// a session that ran: a header line with the number of steps, then the
// global hooks and each target's hooks and steps, each with what it waits
// for.
func printPlanTree(w io.Writer, s client.Object, rec *v1alpha1.RunPlan) {
	fmt.Fprintf(w, "%s %s: %d step%s\n", kindOf(s), s.GetName(), len(rec.Steps), map[bool]string{true: "s"}[len(rec.Steps) != 1])
	var head []node
	if b, ok := s.(*v1alpha1.BackupSession); ok {
		head = append(head, node{label: "invoker: " + b.Spec.Invoker.Kind + "/" + b.Spec.Invoker.Name})
	}
	if d := rec.RunTimeout(); d > 0 {
		head = append(head, node{label: "timeout " + d.String()})
	}
	_, backup := s.(*v1alpha1.BackupSession)
	printChildren(w, append(head, planNodes(rec, backup)...), "")
}

// planNodes are the lines of a run record: global pre hook, repository
// initialisation, targets (pre hook, steps, post hook), global post hook,
// verdict, then any step the layout does not place.
func planNodes(rec *v1alpha1.RunPlan, backup bool) []node {
	pre, post := "preRestore", "postRestore"
	if backup {
		pre, post = "preBackup", "postBackup"
	}
	steps := map[string]*v1alpha1.PlannedStep{}
	for i := range rec.Steps {
		steps[rec.Steps[i].Name] = &rec.Steps[i]
	}
	placed := map[string]bool{}
	line := func(label, step string) node {
		placed[step] = true
		return node{label: label + waitsFor(steps[step])}
	}
	l := &rec.Layout
	var out []node
	if l.GlobalPreHook != "" {
		out = append(out, line(hookLabel("global "+pre+" hook", l.GlobalPreHook), l.GlobalPreHook))
	}
	if l.RepositoryInit != "" {
		out = append(out, line("repository init "+l.RepositoryInit, l.RepositoryInit))
	}
	for _, t := range l.Targets {
		n := node{label: "target " + refString(t.Ref)}
		if t.Hostname != "" {
			n.label += "  host " + t.Hostname
		}
		if t.PreHook != "" {
			n.children = append(n.children, line(hookLabel(pre+" hook", t.PreHook), t.PreHook))
		}
		for _, sr := range t.Steps {
			label := stepLabel(sr.Name, sr.Function, sr.Role)
			if sr.Host != "" {
				label += "  host " + sr.Host
			}
			n.children = append(n.children, line(label, sr.Name))
		}
		if t.PostHook != "" {
			n.children = append(n.children, line(hookLabel(post+" hook", t.PostHook), t.PostHook))
		}
		out = append(out, n)
	}
	if l.GlobalPostHook != "" {
		out = append(out, line(hookLabel("global "+post+" hook", l.GlobalPostHook), l.GlobalPostHook))
	}
	if l.Verdict != "" {
		out = append(out, line("verdict "+l.Verdict, l.Verdict))
	}
	for _, s := range rec.Steps {
		if !placed[s.Name] {
			out = append(out, line("step "+s.Name, s.Name))
		}
	}
	return out
}

// waitsFor is a step's dependencies as text: "  after a (OnSuccess), b
// (OnEnd)", and "  after any of …" for the ones of which one must hold.
func waitsFor(s *v1alpha1.PlannedStep) string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	for _, deps := range []struct {
		title string
		deps  []v1alpha1.PlannedDependency
	}{{"after", s.Dependencies}, {"after any of", s.AnyOf}} {
		if len(deps.deps) == 0 {
			continue
		}
		parts := make([]string, 0, len(deps.deps))
		for _, d := range deps.deps {
			parts = append(parts, d.Step+" ("+d.When+")")
		}
		b.WriteString("  " + deps.title + " " + strings.Join(parts, ", "))
	}
	return b.String()
}
