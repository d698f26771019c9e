// Package localrun runs sessions from YAML files on this machine: it
// resolves what a session needs from the files and the built-in catalog
// (what the operator would read from the cluster), translates it, runs the
// graph on the local engine and fills the session's status the way the
// operator does. `stashflow run` is a thin command over it.
package localrun
