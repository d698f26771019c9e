package verdict

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
)

// Name is the Function's registry name.
const Name = "verdict"

// Verdict fails the run it ends.
type Verdict struct {
	session string
	kind    string
}

// New returns a fresh verdict Function.
func New() step.Function { return &Verdict{} }

// Description implements step.Describer.
func (*Verdict) Description() string {
	return "fail a run in which a step failed (the last step the translators add)"
}

// Flags implements step.Function.
func (v *Verdict) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&v.session, "session", "", "the session whose run this is, namespace/name")
	fs.StringVar(&v.kind, "kind", "", "the session's kind")
}

// Validate implements step.Function.
func (v *Verdict) Validate() error {
	if v.session == "" {
		return fmt.Errorf("--session: required")
	}
	return nil
}

// Run implements step.Function: it always fails, naming the session.
func (v *Verdict) Run(context.Context, *step.Env) (step.Outputs, error) {
	what := v.session
	if v.kind != "" {
		what = v.kind + " " + v.session
	}
	return nil, fmt.Errorf("%s failed: a step of its run failed, and its message names the cause", what)
}
