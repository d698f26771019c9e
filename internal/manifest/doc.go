// Package manifest reads Kubernetes YAML files (several documents each, or
// directories of them) into typed objects, strictly: an unknown field or a
// wrong type is an error that names the file, the document and the field.
// It is what `stashflow run -f` and the tests use to load the same YAML a
// cluster would accept.
package manifest
