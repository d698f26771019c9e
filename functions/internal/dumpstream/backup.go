package dumpstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/deathsig"
)

// TailSize is how many of the stream's last bytes Check is given.
const TailSize = 256

// copyBuffer is the size of the copies from the dump tool to restic.
const copyBuffer = 256 << 10

// BackupOptions describe one backup of a dump tool's output.
type BackupOptions struct {
	Restic restic.BackupOptions
	// Command returns a new, unstarted dump command; it may be called twice
	// (again after the repository was initialised or a stale lock
	// removed). Its Stdout and Stderr are set here.
	Command func() *exec.Cmd
	// Name names the tool in messages.
	Name string
	// Check, when set, judges the last TailSize bytes of the stream once the
	// tool exited 0: an error means the dump stopped early, and no snapshot
	// is written.
	Check func(end []byte) error
	// Filter, when set, wraps restic's stdin for one attempt: the stream is
	// written through it, and its Close, called once the tool exited 0,
	// flushes what it held back or says why the stream is not whole (then
	// no snapshot is written).
	Filter func(w io.Writer) io.WriteCloser
}

// Backup streams the dump tool's stdout into `restic backup --stdin` and
// returns restic's summary. A repository that does not exist yet is
// initialised and the dump taken again; a stale lock is removed and the
// dump taken again.
func Backup(ctx context.Context, env *step.Env, o BackupOptions) (*restic.BackupSummary, error) {
	log := env.Logger()
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return nil, err
	}
	summary, err := backupOnce(ctx, repo, o)
	if restic.IsKind(err, restic.KindNoRepository) {
		if _, ierr := repo.EnsureRepository(ctx); ierr != nil {
			return nil, ierr
		}
		log.Info("repository initialised; dumping again")
		summary, err = backupOnce(ctx, repo, o)
	}
	if retry, rerr := repo.ResolveLocked(ctx, err); retry {
		log.Info("retrying after removing a stale restic lock")
		summary, err = backupOnce(ctx, repo, o)
	} else {
		err = rerr
	}
	return summary, err
}

var errResticStopped = errors.New("restic stopped reading the dump")

func backupOnce(ctx context.Context, repo *restic.Client, o BackupOptions) (*restic.BackupSummary, error) {
	bk, err := repo.BackupStdin(ctx, o.Restic)
	if err != nil {
		return nil, err
	}
	if err := runDump(ctx, bk, o); err != nil {
		// Kill restic before its stdin can reach EOF: no snapshot.
		if rerr := bk.Abort(ctx); rerr != nil {
			if errors.Is(err, errResticStopped) {
				err = rerr // restic's own reason is the real one
			} else {
				err = errors.Join(err, rerr)
			}
		}
		return nil, err
	}
	return bk.Finish(ctx)
}

// runDump runs the dump tool with its stdout copied into w. Any error means
// w must not see a clean EOF.
func runDump(ctx context.Context, w io.Writer, o BackupOptions) error {
	cmd := o.Command()
	r, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	restic.SetPipeSize(pw, restic.DefaultPipeSize)
	stderr := &tail{max: stderrTail}
	cmd.Stdout, cmd.Stderr = pw, stderr
	p, err := deathsig.Start(cmd, syscall.SIGKILL)
	pw.Close() // the tool has its copy; EOF comes when it exits
	if err != nil {
		r.Close()
		return fmt.Errorf("start %s: %w", o.Name, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	end := &tail{max: TailSize}
	// The reader is wrapped so that CopyBuffer uses the large buffer
	// rather than *os.File's WriteTo.
	var filter io.WriteCloser
	if o.Filter != nil {
		filter = o.Filter(w)
		w = filter
	}
	n, cerr := io.CopyBuffer(io.MultiWriter(w, end), struct{ io.Reader }{r}, make([]byte, copyBuffer))
	if cerr != nil {
		_ = cmd.Process.Kill()
		r.Close()
		_ = p.Wait() // killed by us: its status says nothing
		return fmt.Errorf("%w after %d bytes: %w", errResticStopped, n, cerr)
	}
	r.Close()
	werr := p.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if werr != nil {
		return toolError(o.Name, werr, stderr.Bytes())
	}
	if filter != nil {
		if err := filter.Close(); err != nil {
			return fmt.Errorf("%s exited 0 after %d bytes but %w", o.Name, n, err)
		}
	}
	if o.Check != nil {
		if err := o.Check(end.Bytes()); err != nil {
			return fmt.Errorf("%s exited 0 after %d bytes but %w", o.Name, n, err)
		}
	}
	return nil
}
