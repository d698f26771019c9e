package repository

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// CheckName is the registered name of the repository-check Function.
const CheckName = "repository-check"

// Check is the repository-check Function.
type Check struct {
	readData       bool
	readDataSubset string
	create         bool
	failOnErrors   bool
}

// NewCheck returns a fresh repository-check Function.
func NewCheck() *Check { return &Check{create: true, failOnErrors: true} }

// Description implements step.Describer.
func (*Check) Description() string {
	return "verify a restic repository's structure and, optionally, its data (restic check)"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (c *Check) DeclaredOutputs() []string {
	return []string{outputs.Integrity, outputs.Errors, outputs.BrokenPacks}
}

// Flags implements step.Function.
func (c *Check) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&c.readData, "read-data", false, "read and verify all data blobs")
	fs.StringVar(&c.readDataSubset, "read-data-subset", "", "read and verify a subset of the data: n/t, x% or a size such as 500M")
	fs.BoolVar(&c.create, "create", true, "initialise the repository if the backend holds none (false: a missing repository fails the step)")
	fs.BoolVar(&c.failOnErrors, "fail-on-errors", true, "fail the step when restic check finds an error (false: succeed and report integrity=false with the counts)")
}

// Validate implements step.Function.
func (c *Check) Validate() error {
	if c.readData && c.readDataSubset != "" {
		return fmt.Errorf("--read-data-subset: not together with --read-data")
	}
	if c.readDataSubset != "" && strings.ContainsAny(c.readDataSubset, " \n") {
		return fmt.Errorf("--read-data-subset: %q is not n/t, x%% or a size", c.readDataSubset)
	}
	return nil
}

// Run implements step.Function.
func (c *Check) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	if c.create {
		_, err = repo.EnsureRepository(ctx)
	} else {
		err = repo.Open(ctx)
	}
	if err != nil {
		return nil, err
	}
	res, err := repo.Check(ctx, restic.CheckOptions{ReadData: c.readData, ReadDataSubset: c.readDataSubset})
	out := step.Outputs{
		outputs.Errors:      strconv.Itoa(max(res.NumErrors, len(res.Errors))),
		outputs.BrokenPacks: strconv.Itoa(len(res.BrokenPacks)),
	}
	switch {
	case err == nil:
		out[outputs.Integrity] = "true"
	case restic.IsKind(err, restic.KindCheckFailed):
		out[outputs.Integrity] = "false"
		if !c.failOnErrors {
			env.Logger().Info("repository damaged", "errors", out[outputs.Errors], "brokenPacks", out[outputs.BrokenPacks], "cause", err.Error())
			return out, nil
		}
	}
	return out, err
}
