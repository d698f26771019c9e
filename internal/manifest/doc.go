// Package manifest reads Kubernetes YAML files (several documents each, or
// directories of them) into typed objects, strictly: an unknown field or a
// wrong type is an error that names the file, the document and the field.
// It is what `stashflow run -f` and the tests use to load the same YAML a
// cluster would accept.
//
// With an Admission (Options.Admission; CRDAdmission is stashflow's own
// CRDs, embedded from config/crd), every stashflow.dev object is also
// defaulted and validated as the apiserver would on create, offline, by the
// apiserver's own code (k8s.io/apiextensions-apiserver): the OpenAPI v3
// schema, the list types, the metadata rules and the CEL
// x-kubernetes-validations rules. The CRDs, not a copy of their rules, are
// the source: a rule added to api/v1alpha1 and regenerated with `make
// manifests` is enforced by `stashflow run` with no code change.
package manifest
