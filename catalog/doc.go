// Package catalog holds stashflow's built-in Functions and Tasks as YAML,
// embedded in the binary: etcd, Elasticsearch, volumes, retention and
// repository checks. The operator installs them at start; `stashflow run`
// and `stashflow catalog` read them directly. A user's own Function or Task
// of the same name wins over the built-in one.
package catalog
