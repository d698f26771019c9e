// Package crd embeds the generated CustomResourceDefinitions (bases/*.yaml,
// written by `make manifests`, never edited by hand), so that code can read
// the schemas the apiserver enforces without a cluster: `stashflow run`
// defaults and validates its input with them (internal/manifest).
//
// This file is the package's only Go file; controller-gen writes into bases/
// and leaves it alone, and `make verify` diffs only what it regenerates.
package crd

import (
	"embed"
	"io/fs"
)

//go:embed bases/*.yaml
var bases embed.FS

// Bases returns the CRD files, one CustomResourceDefinition per file, at the
// root of the returned file system.
func Bases() fs.FS {
	sub, err := fs.Sub(bases, "bases")
	if err != nil {
		panic(err) // "bases" is a valid path: fs.Sub cannot fail
	}
	return sub
}
