// Package hostproc holds what the local engine and the e2e pod runner need
// alike to run a step's command as a host process: resolving the command
// as a container runtime would. Starting it so that it dies with its engine
// is internal/deathsig's.
package hostproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// LookCommand resolves name as a container runtime would resolve the
// command of an image without an entrypoint: through commands first, then
// as a path (relative to the working directory dir), then in the PATH of
// env (the process's environment; this process's PATH when env has none).
func LookCommand(name string, commands map[string]string, env []string, dir string) (string, error) {
	if p, ok := commands[name]; ok {
		name = p
	}
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return name, nil
	}
	pathEnv := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v // the last one wins, as in the child
		}
	}
	if pathEnv == "" {
		return exec.LookPath(name)
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
