package pipeline

import (
	"regexp"
)

// An output reference lets a step use another step's output parameter in its
// args or env values: $(steps.<step>.outputs.<name>). Engines substitute the
// value once the producing step has succeeded; the producer must be an
// ancestor of the consumer.
var outputRefPattern = regexp.MustCompile(`\$\(steps\.([a-z][a-z0-9-]*)\.outputs\.([A-Za-z][A-Za-z0-9_-]*)\)`)

// OutputRef names one output parameter of one step.
type OutputRef struct {
	Step   string
	Output string
}

// String renders the reference in the graph's syntax.
func (r OutputRef) String() string {
	return "$(steps." + r.Step + ".outputs." + r.Output + ")"
}

// OutputRefs lists the output references in s, in order of appearance.
func OutputRefs(s string) []OutputRef {
	var refs []OutputRef
	for _, m := range outputRefPattern.FindAllStringSubmatch(s, -1) {
		refs = append(refs, OutputRef{Step: m[1], Output: m[2]})
	}
	return refs
}

// ReplaceOutputRefs replaces every output reference in s with what f returns for it.
func ReplaceOutputRefs(s string, f func(OutputRef) string) string {
	return outputRefPattern.ReplaceAllStringFunc(s, func(m string) string {
		sub := outputRefPattern.FindStringSubmatch(m)
		return f(OutputRef{Step: sub[1], Output: sub[2]})
	})
}

// Refs lists every output reference in the step's args and env values.
func (s *Step) Refs() []OutputRef {
	var refs []OutputRef
	for _, a := range s.Process.Args {
		refs = append(refs, OutputRefs(a)...)
	}
	for _, a := range s.Process.Command {
		refs = append(refs, OutputRefs(a)...)
	}
	for _, e := range s.Process.Env {
		refs = append(refs, OutputRefs(e.Value)...)
	}
	return refs
}
