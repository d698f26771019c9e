package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// buildStashflow builds ./cmd/stashflow of the module at root into dir.
func buildStashflow(root, dir string) (string, error) {
	out := filepath.Join(dir, "stashflow")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/stashflow")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/stashflow: %w\n%s", err, b)
	}
	return out, nil
}
