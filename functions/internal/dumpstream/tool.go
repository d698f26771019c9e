package dumpstream

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stashflow/stashflow/functions/step"
)

// LookTool finds a client tool on the step's PATH (its environment's, else
// this process's). The error names the tool and where it comes from.
func LookTool(env *step.Env, name, pkg string) (string, error) {
	path, ok := env.LookupEnv("PATH")
	if !ok {
		path = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH (%s): the step image needs %s", name, path, pkg)
}

// tail keeps the last bytes written to it.
type tail struct {
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// Bytes returns the kept bytes.
func (t *tail) Bytes() []byte { return t.b }

// stderrTail is how much of a tool's stderr is kept for its error.
const stderrTail = 4 << 10

// toolError describes a tool's failure with the last lines of its stderr.
func toolError(name string, err error, stderr []byte) error {
	// The last lines say why; at most three of them, on one line.
	var lines []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines[max(0, len(lines)-3):], " | ")
	var ee *exec.ExitError
	if errors.As(err, &ee) && msg != "" {
		return fmt.Errorf("%s failed (%s): %s", name, ee.String(), msg)
	}
	if msg != "" {
		return fmt.Errorf("%s failed: %w: %s", name, err, msg)
	}
	return fmt.Errorf("%s failed: %w", name, err)
}
