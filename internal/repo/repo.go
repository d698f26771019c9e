// Package repo finds the stashflow checkout a test, benchmark or demo runs
// in, and the pinned tools that hack/build-tools.sh built into its bin/.
package repo

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is stashflow's module.
const ModulePath = "github.com/stashflow/stashflow"

// Root walks up from the working directory to the go.mod of ModulePath
// (not a tools module's under hack/tools).
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if mod, err := modulePath(filepath.Join(dir, "go.mod")); err == nil && mod == ModulePath {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of module %s at or above %s: run from inside the stashflow repository", ModulePath, wd)
		}
	}
}

// Bin is <root>/bin.
func Bin() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

// BuildStashflow builds ./cmd/stashflow of this checkout into dir, the
// step guard (./cmd/stashflow-guard) and the lean Function binary
// (./cmd/stashflow-fn, tag stashflow_lean) beside it, as `make build` and
// the image ship them, and returns the stashflow binary's path. Steps a
// test runs through `stashflow fn` therefore run in stashflow-fn, as users'
// do. Go's build cache makes a second call cheap.
func BuildStashflow(dir string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	for _, args := range [][]string{
		{"build", "-o", dir + string(filepath.Separator), "./cmd/stashflow", "./cmd/stashflow-guard"},
		{"build", "-tags", LeanTag, "-o", filepath.Join(dir, FnBinary), "./cmd/stashflow-fn"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
		}
	}
	return filepath.Join(dir, "stashflow"), nil
}

// FnBinary is the lean Function binary's name; `stashflow fn` execs it
// when it sits next to stashflow.
const FnBinary = "stashflow-fn"

// LeanTag is the build tag stashflow-fn is built with.
const LeanTag = "stashflow_lean"
