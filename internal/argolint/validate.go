package argolint

import (
	"fmt"

	argoerrors "github.com/argoproj/argo-workflows/v3/errors"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/templateresolution"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
)

// Validate runs Argo's own workflow validation (the checks `argo lint` and
// the Argo server make on submission) on wf. Rendered workflows never refer
// to WorkflowTemplates, so template lookups find nothing.
//
// Argo's validation writes into the workflow it checks (it merges
// spec.podMetadata into every template it resolves), so it runs on a copy;
// and it panics on a task naming a missing template while spec.podMetadata
// is set, so a panic is returned as an error.
func Validate(wf *wfv1.Workflow) (err error) {
	if wf == nil {
		return fmt.Errorf("argo: nil workflow")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("argo: workflow %q: Argo's validation panicked: %v", wf.Name, r)
		}
	}()
	err = validate.ValidateWorkflow(noWorkflowTemplates{}, &templateresolution.NullClusterWorkflowTemplateGetter{},
		wf.DeepCopy(), nil, validate.ValidateOpts{Submit: true})
	if err != nil {
		return fmt.Errorf("argo: workflow %q fails Argo's validation: %w", wf.Name, err)
	}
	return nil
}

type noWorkflowTemplates struct{}

func (noWorkflowTemplates) Get(name string) (*wfv1.WorkflowTemplate, error) {
	return nil, argoerrors.Errorf(argoerrors.CodeNotFound, "workflowtemplates.argoproj.io %q not found: stashflow workflows use none", name)
}
