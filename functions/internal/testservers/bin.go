package testservers

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stashflow/stashflow/internal/repo"
)

// RepoRoot returns the directory holding go.mod, walking up from the
// working directory.
func RepoRoot() (string, error) {
	return repo.Root()
}

// SetupPATH prepends <repo root>/bin to PATH and checks that the named
// tools are there. Call it from TestMain.
func SetupPATH(tools ...string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	if err := os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return err
	}
	var missing []string
	for _, t := range tools {
		if st, err := os.Stat(filepath.Join(bin, t)); err != nil || st.IsDir() {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s missing from %s: run make tools (or hack/build-tools.sh %s)", strings.Join(missing, ", "), bin, strings.Join(missing, " "))
	}
	return nil
}

// BuildStashflow builds ./cmd/stashflow into dir and returns its path.
func BuildStashflow(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "stashflow")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/stashflow")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/stashflow: %w\n%s", err, b)
	}
	return out, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// It is taken below Linux's ephemeral range (32768–60999 by default), where
// the kernel picks the local ports of outgoing connections and of ":0"
// listeners: a server started on a port from that range a little later
// (an etcd member restarted on the peer URL its restored data dir names)
// can find it taken by another test's connection.
func FreePort() (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
