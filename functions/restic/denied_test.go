package restic

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/stashflow/stashflow/internal/testproc"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestAccessDeniedOnRealServers: credentials a real backend refuses are
// access denied (KindAccessDenied), at restic's exit as in its retry
// notices, and the failure comes at once instead of after restic's retries:
// rest-server with --htpasswd-file and a wrong RESTIC_REST_PASSWORD (401),
// Azurite with a wrong AZURE_ACCOUNT_KEY (403). The message names the
// refusal and holds no credential.
func TestAccessDeniedOnRealServers(t *testing.T) {
	rest := func(t *testing.T) (string, []string, []string) {
		pass := rand.Text()
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		htpasswd := filepath.Join(dir, ".htpasswd")
		if err := os.WriteFile(htpasswd, []byte("backup:"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addr, _ := testproc.StartRestServer(t, filepath.Join(dir, "data"), "--htpasswd-file", htpasswd)
		return "rest:http://" + addr + "/repo",
			[]string{"RESTIC_REST_USERNAME=backup", "RESTIC_REST_PASSWORD=" + pass},
			[]string{"RESTIC_REST_USERNAME=backup", "RESTIC_REST_PASSWORD=not-" + pass}
	}
	azure := func(t *testing.T) (string, []string, []string) {
		s := testservers.StartAzurite(t)
		env := append(s.Env(), "AZURE_ACCOUNT_NAME="+s.Account)
		wrong := base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
		return "azure:" + s.Container + ":/repo",
			append(append([]string{}, env...), "AZURE_ACCOUNT_KEY="+s.Key),
			append(append([]string{}, env...), "AZURE_ACCOUNT_KEY="+wrong)
	}
	for name, start := range map[string]func(*testing.T) (string, []string, []string){"rest-server": rest, "azurite": azure} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc, right, wrong := start(t)
			if _, err := newClient(t, loc, right...).EnsureRepository(ctx(t)); err != nil {
				t.Fatalf("creating the repository with the right credentials: %v", err)
			}
			for _, tc := range []struct {
				what string
				run  func(c *Client) error
			}{
				{"open", func(c *Client) error { return c.Open(ctx(t)) }},
				{"snapshots", func(c *Client) error { _, err := c.Snapshots(ctx(t), Filter{}); return err }},
			} {
				start := time.Now()
				err := tc.run(newClient(t, loc, wrong...))
				took := time.Since(start)
				t.Logf("%s with wrong credentials: %v (in %s)", tc.what, err, took.Round(time.Millisecond))
				if !IsKind(err, KindAccessDenied) {
					t.Errorf("%s with wrong credentials: %v; want access denied", tc.what, err)
				}
				for _, v := range wrong {
					k, secret, _ := strings.Cut(v, "=")
					if (strings.HasSuffix(k, "PASSWORD") || strings.HasSuffix(k, "_KEY")) && err != nil && strings.Contains(err.Error(), secret) {
						t.Errorf("%s: the error holds %s: %v", tc.what, k, err)
					}
				}
			}
		})
	}
}
