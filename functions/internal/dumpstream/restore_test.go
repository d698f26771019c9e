package dumpstream

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
)

// TestRestoreToolClosesInput: a load tool that stops reading (psql at a
// failed statement under ON_ERROR_STOP) is waited for, not killed, so the
// step fails with the tool's own reason; one that closes its input and
// exits 0 is said to have stopped early; one that closes its input and
// hangs is killed after a grace and reported so.
func TestRestoreToolClosesInput(t *testing.T) {
	env := fntest.Env(t, []string{"RESTIC_REPOSITORY=" + filepath.Join(t.TempDir(), "repo"), "RESTIC_PASSWORD=p"})
	// 8 MiB: more than the pipe holds, so the writer meets the closed end.
	sum, err := Backup(t.Context(), env, BackupOptions{
		Restic:  restic.BackupOptions{Filename: "dump.sql"},
		Command: func() *exec.Cmd { return exec.Command("head", "-c", "8388608", "/dev/zero") },
		Name:    "head",
	})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, script, want, notWant string
		grace                       time.Duration
	}{{
		// It closes its input once the dump begins and exits only after
		// restic's dump has failed and its lock was removed (≈ 2 s): a
		// kill then would lose its message.
		name:    "closes input then fails",
		script:  `head -c 1 > /dev/null; exec 0<&-; sleep 4; echo 'ERROR:  relation "orders" already exists' >&2; exit 3`,
		want:    `sh failed (exit status 3): ERROR: relation "orders" already exists`,
		notWant: "killed",
	}, {
		name:   "closes input then exits 0",
		script: `head -c 1 > /dev/null; exit 0`,
		want:   "sh exited 0 but stopped reading the dump of /dump.sql after",
	}, {
		// It closes its input and hangs: it is killed after the grace.
		name:   "closes input then hangs",
		script: `head -c 1 > /dev/null; exec 0<&- sleep 60`,
		grace:  time.Second,
		want:   "sh was killed before the end of its input",
	}, {
		name:   "reads everything",
		script: `cat > /dev/null`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.grace > 0 {
				defer func(d time.Duration) { closedInputGrace = d }(closedInputGrace)
				closedInputGrace = tc.grace
			}
			_, err := Restore(t.Context(), repo, RestoreOptions{
				SnapshotID: sum.SnapshotID,
				Path:       "/dump.sql",
				Command:    exec.Command("sh", "-c", tc.script),
				Name:       "sh",
			})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to hold %q", err, tc.want)
			case tc.notWant != "" && strings.Contains(err.Error(), tc.notWant):
				t.Fatalf("err = %v, want it without %q", err, tc.notWant)
			}
		})
	}
}
