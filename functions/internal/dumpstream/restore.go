package dumpstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/deathsig"
)

// RestoreOptions describe one restore of a dump into a load tool.
type RestoreOptions struct {
	SnapshotID string
	// Path is the dump's path inside the snapshot.
	Path string
	// Command is the load tool, unstarted; its Stdin, Stdout and Stderr
	// are set here.
	Command *exec.Cmd
	// Name names the tool in messages.
	Name string
	// Filter, when set, wraps the load tool's stdin: the dump is written
	// through it, and its Close is called once restic dumped the whole
	// file, before the tool's stdin is closed.
	Filter func(w io.Writer) io.WriteCloser
}

// Restore streams a file of a snapshot (`restic dump`) into the load
// tool's stdin and returns the bytes restic dumped. When restic fails, the
// load tool is killed before its stdin is closed: it never sees an end of
// input, so it commits nothing of what it was given.
func Restore(ctx context.Context, repo *restic.Client, o RestoreOptions) (int64, error) {
	cmd := o.Command
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	restic.SetPipeSize(w, restic.DefaultPipeSize)
	stderr, stdout := &tail{max: stderrTail}, &tail{max: stderrTail}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, stdout, stderr
	p, err := deathsig.Start(cmd, syscall.SIGKILL)
	r.Close() // the tool has its copy
	if err != nil {
		w.Close()
		return 0, fmt.Errorf("start %s: %w", o.Name, err)
	}
	var sink io.WriteCloser = nopCloser{w}
	if o.Filter != nil {
		sink = o.Filter(w)
	}
	cw := &counter{w: sink}
	derr := repo.Dump(ctx, o.SnapshotID, o.Path, cw)
	if derr == nil {
		derr = sink.Close()
	}
	if derr != nil {
		if errors.Is(cw.err, syscall.EPIPE) {
			// The tool closed its input itself (a failed statement under
			// ON_ERROR_STOP): it is on its way out, and its exit says why.
			// Killing it now would race that exit and lose its message.
			select {
			case <-p.Exited:
			case <-time.After(closedInputGrace):
			}
		}
		gone := false
		select {
		case <-p.Exited:
			gone = true // it stopped first: restic's broken pipe followed
		default:
		}
		_ = cmd.Process.Kill()
		w.Close()
		werr := p.Wait()
		if gone && werr != nil {
			return cw.n, toolError(o.Name, werr, append(stdout.Bytes(), stderr.Bytes()...))
		}
		if gone {
			return cw.n, fmt.Errorf("%s exited 0 but stopped reading the dump of %s after %d bytes: the dump was not restored whole", o.Name, o.Path, cw.n)
		}
		if cw.err != nil {
			derr = cw.err // the filter refused the dump: restic's broken pipe followed
		}
		return cw.n, fmt.Errorf("dump of %s stopped after %d bytes; %s was killed before the end of its input, so nothing of it was committed: %w", o.Path, cw.n, o.Name, derr)
	}
	w.Close()
	if werr := p.Wait(); werr != nil {
		return cw.n, toolError(o.Name, werr, append(stdout.Bytes(), stderr.Bytes()...))
	}
	return cw.n, nil
}

// closedInputGrace is how long a tool that closed its input is given to
// exit on its own before it is killed (a variable for the tests).
var closedInputGrace = 30 * time.Second

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// counter counts the bytes written through it.
type counter struct {
	w   io.Writer
	n   int64
	err error // the first write error
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
