package manifest

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/config/crd"
)

// Admission is what the apiserver does to a custom resource on create,
// offline, from the CRDs alone: it drops the nulls the schema does not allow,
// applies the schema's defaults, then validates the object's metadata, its
// OpenAPI v3 schema, its list types and its CEL x-kubernetes-validations
// rules. The errors are the apiserver's own (field path, type, value,
// message), made by the same k8s.io/apiextensions-apiserver code.
//
// Unknown fields are not Admission's: the strict decoding that precedes it
// reports them (the typed objects and the CRDs are generated from the same Go
// types).
//
// An Admission is safe for concurrent use. A kind's schema and CEL programs
// are compiled the first time an object of that kind is admitted.
type Admission struct {
	kinds map[schema.GroupKind]*crdKind
}

type crdKind struct {
	namespaced bool
	versions   map[string]*crdVersion
}

type crdVersion struct {
	props  *apiextensionsinternal.JSONSchemaProps
	status bool // the version has the status subresource

	once     sync.Once
	compiled *compiledSchema
	err      error
}

type compiledSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no rules
}

// CRDAdmission is the Admission of stashflow's own CRDs (config/crd/bases,
// embedded), built once.
var CRDAdmission = sync.OnceValues(func() (*Admission, error) { return NewAdmission(crd.Bases()) })

// NewAdmission reads every CustomResourceDefinition in the *.yaml files at
// the root of fsys.
func NewAdmission(fsys fs.FS) (*Admission, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	a := &Admission{kinds: map[schema.GroupKind]*crdKind{}}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if def.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: %q is not a CustomResourceDefinition", path.Base(f), def.Kind)
		}
		gk := schema.GroupKind{Group: def.Spec.Group, Kind: def.Spec.Names.Kind}
		k := &crdKind{namespaced: def.Spec.Scope == apiextensionsv1.NamespaceScoped, versions: map[string]*crdVersion{}}
		for _, v := range def.Spec.Versions {
			if !v.Served {
				continue
			}
			ver := &crdVersion{status: v.Subresources != nil && v.Subresources.Status != nil}
			if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				ver.props = &apiextensionsinternal.JSONSchemaProps{}
				if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, ver.props, nil); err != nil {
					return nil, fmt.Errorf("%s: version %s: %w", f, v.Name, err)
				}
			}
			k.versions[v.Name] = ver
		}
		if a.kinds[gk] != nil {
			return nil, fmt.Errorf("%s: %s is defined twice", f, gk)
		}
		a.kinds[gk] = k
	}
	return a, nil
}

// Handles reports whether the Admission has a CRD for gk.
func (a *Admission) Handles(gk schema.GroupKind) bool { return a.kinds[gk] != nil }

// compile builds a version's structural schema, schema validator and CEL
// validator as the apiserver does when it starts serving the version.
func (v *crdVersion) compile() (*compiledSchema, error) {
	v.once.Do(func() {
		if v.props == nil {
			v.err = fmt.Errorf("the CRD has no schema")
			return
		}
		s, err := structuralschema.NewStructural(v.props)
		if err != nil {
			v.err = fmt.Errorf("the CRD's schema is not structural: %w", err)
			return
		}
		s = s.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(s); err != nil {
			v.err = fmt.Errorf("the CRD's defaults: %w", err)
			return
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(v.props)
		if err != nil {
			v.err = fmt.Errorf("the CRD's schema: %w", err)
			return
		}
		v.compiled = &compiledSchema{structural: s, validator: validator, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
	})
	return v.compiled, v.err
}

// Admit defaults obj in place and validates it as a create of a new object:
// the status, which a create does not write, is not validated. An object
// without a namespace is validated in DefaultNamespace, as kubectl would
// create it; a cluster-scoped object's namespace is ignored.
func (a *Admission) Admit(obj map[string]any) field.ErrorList { return a.admit(obj, false) }

// AdmitStatus validates obj with its status, as the apiserver validates a
// write of the status subresource: what a controller writes into a
// session's status (its run record) must pass the CRD's own schema.
func (a *Admission) AdmitStatus(obj map[string]any) field.ErrorList { return a.admit(obj, true) }

func (a *Admission) admit(obj map[string]any, withStatus bool) field.ErrorList {
	u := &unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	k := a.kinds[gvk.GroupKind()]
	if k == nil {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), gvk.Kind, a.kindNames(gvk.Group))}
	}
	v := k.versions[gvk.Version]
	if v == nil {
		return field.ErrorList{field.NotSupported(field.NewPath("apiVersion"), u.GetAPIVersion(), k.apiVersions(gvk.Group))}
	}
	s, err := v.compile()
	if err != nil {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("%s: %w", gvk, err))}
	}

	// Decoding: what the schema does not know goes (the strict decoding
	// has reported it), nulls the schema does not allow go, defaults apply.
	structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, s.structural)
	structuraldefaulting.Default(obj, s.structural)

	// Create: the object as the registry validates it.
	created := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	if v.status && !withStatus {
		delete(created.Object, "status")
	}
	switch {
	case !k.namespaced:
		created.SetNamespace("")
	case created.GetNamespace() == "":
		created.SetNamespace(DefaultNamespace)
	}
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(created, k.namespaced, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, created.Object, s.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(nil, created.Object, s.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, created.Object)...)
	if s.cel != nil {
		if blocking := blockingError(errs); blocking != nil {
			errs = append(errs, blocking)
		} else {
			celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, created.Object, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// DefaultNamespace is the namespace of a namespaced object that names none,
// as kubectl's default context has it.
const DefaultNamespace = "default"

// blockingError is the apiserver's rule (customresource.hasBlockingErr): CEL
// rules are not run on an object whose shape is already known to be wrong.
func blockingError(errs field.ErrorList) *field.Error {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}

func (a *Admission) kindNames(group string) []string {
	var out []string
	for gk := range a.kinds {
		if gk.Group == group {
			out = append(out, gk.Kind)
		}
	}
	slices.Sort(out)
	return out
}

func (k *crdKind) apiVersions(group string) []string {
	var out []string
	for v := range k.versions {
		out = append(out, schema.GroupVersion{Group: group, Version: v}.String())
	}
	slices.Sort(out)
	return out
}
