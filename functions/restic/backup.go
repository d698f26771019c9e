package restic

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stashflow/stashflow/outputs"
)

// BackupSummary is the "summary" message of `restic backup --json`.
type BackupSummary struct {
	FilesNew            uint      `json:"files_new"`
	FilesChanged        uint      `json:"files_changed"`
	FilesUnmodified     uint      `json:"files_unmodified"`
	DataBlobs           int       `json:"data_blobs"`
	TreeBlobs           int       `json:"tree_blobs"`
	DataAdded           uint64    `json:"data_added"`
	DataAddedPacked     uint64    `json:"data_added_packed"`
	TotalFilesProcessed uint      `json:"total_files_processed"`
	TotalBytesProcessed uint64    `json:"total_bytes_processed"`
	TotalDuration       float64   `json:"total_duration"`
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
	SnapshotID          string    `json:"snapshot_id"`
}

// Outputs are the step outputs of a backup that committed s.SnapshotID:
// the snapshot id, its time (outputs.SnapshotTime: restic sets the
// snapshot's time to the backup's start, backup_start), the bytes read
// (size), the bytes added to the repository (uploaded) and the files.
func (s *BackupSummary) Outputs() map[string]string {
	out := map[string]string{
		outputs.SnapshotID: s.SnapshotID,
		outputs.Size:       strconv.FormatUint(s.TotalBytesProcessed, 10),
		outputs.Uploaded:   strconv.FormatUint(s.DataAddedPacked, 10),
		outputs.Files:      strconv.FormatUint(uint64(s.TotalFilesProcessed), 10),
	}
	if !s.BackupStart.IsZero() {
		out[outputs.SnapshotTime] = s.BackupStart.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// BackupOptions are the options of a backup from stdin.
type BackupOptions struct {
	// Filename is the name the stream gets in the snapshot (--stdin-filename).
	Filename string
	Tags     []string
	// Host overrides the snapshot's hostname (--host).
	Host string
	// PipeSize is the size asked for restic's stdin pipe (F_SETPIPE_SZ);
	// 0 means DefaultPipeSize. The kernel may grant less.
	PipeSize int
	// GOGC is restic's GOGC when the step's environment does not set one;
	// "" means BackupGOGC.
	GOGC string
}

// DefaultPipeSize is the pipe buffer asked for between the stream and restic
// (the default /proc/sys/fs/pipe-max-size).
const DefaultPipeSize = 1 << 20

// BackupGOGC is restic's GOGC for backups unless the environment sets one
// (restic lowers GOGC to 50 by itself). Measured side by side on a 1 GiB
// etcd (bench/etcd -size 1GiB -repeat 3 -b-env 'GOGC=50;GOGC=100;GOGC=200',
// docs/benchmarks.md): without a limit, 100 kept restic at 73 MiB and the
// step at 101 MiB with the CPU of 400 (13.1 CPU-s both), where 400 grew
// restic to 228 MiB and the step to 256 MiB, over the 160 MiB target;
// under a 256 MiB limit, 100 kept restic at ≈ 75 MiB with the least CPU,
// while 400 and off grew it to its GOMEMLIMIT and collected there.
const BackupGOGC = "100"

// StdinBackup is a running `restic backup --stdin`. Write the stream to it,
// then call Finish to let restic commit the snapshot, or Abort to make sure
// no snapshot is written.
type StdinBackup struct {
	c    *Client
	proc *process
	w    *os.File

	wg      sync.WaitGroup
	summary *BackupSummary
	stderr  tailBuffer
	stdoutR *os.File
	stderrR *os.File
	done    bool
	// gaveUp is why restic was stopped while it retried its backend
	// (written by the stderr reader; read after wg.Wait).
	gaveUp *Error
	watch  *retryWatch
	// readerGone: a write found restic's stdin closed, so restic is on its
	// way out on its own (it closes stdin only to fail).
	readerGone bool
}

// tagArgs are the --tag flags of tags. restic splits a --tag value at its
// commas, so a tag holding one would be recorded as two: it is refused
// before restic starts.
func tagArgs(tags []string) ([]string, error) {
	var args []string
	for _, t := range tags {
		if strings.Contains(t, ",") {
			return nil, fmt.Errorf("backup: tag %q holds a comma, which restic would split into two tags", t)
		}
		args = append(args, "--tag", t)
	}
	return args, nil
}

// exitGrace is how long a restic that stopped reading its input has to exit
// on its own, and say why, before it is killed.
const exitGrace = 10 * time.Second

// BackupStdin starts restic reading a stream from a pipe.
func (c *Client) BackupStdin(ctx context.Context, o BackupOptions) (*StdinBackup, error) {
	args := []string{"backup", "--stdin", "--json"}
	if o.Filename != "" {
		args = append(args, "--stdin-filename", o.Filename)
	}
	tags, err := tagArgs(o.Tags)
	if err != nil {
		return nil, err
	}
	args = append(args, tags...)
	if o.Host != "" {
		args = append(args, "--host", o.Host)
	}
	gogc := o.GOGC
	if gogc == "" {
		gogc = BackupGOGC
	}
	cmd := exec.Command(c.Binary, args...)
	cmd.Env = c.env("GOGC=" + gogc)

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	size := o.PipeSize
	if size == 0 {
		size = DefaultPipeSize
	}
	SetPipeSize(stdinW, size)
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		stdoutR.Close()
		stdoutW.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, stderrW
	proc, err := c.start(cmd)
	// The child has its copies; ours of its ends must go so that EOF and
	// exit are seen.
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		stderrR.Close()
		return nil, &Error{Kind: KindNotFound, Command: "backup", Message: err.Error()}
	}
	// Started without `restic cat config` first, restic may be retrying
	// a repository it cannot open while the caller streams into the pipe:
	// stop it as `cat` would be stopped; and stop it when the backend stops
	// answering mid-stream (the stall rule).
	watch := &retryWatch{command: "backup", location: c.Location, start: time.Now(), limit: c.OpenTimeout, openOnly: true, stall: c.StallTimeout}
	b := &StdinBackup{c: c, proc: proc, w: stdinW, stdoutR: stdoutR, stderrR: stderrR, watch: watch}
	b.wg.Add(2)
	go b.readStdout()
	go func() {
		defer b.wg.Done()
		b.gaveUp = watchStderr(stderrR, &b.stderr, watch, b.proc.kill)
	}()
	return b, nil
}

func (b *StdinBackup) readStdout() {
	defer b.wg.Done()
	sc := bufio.NewScanner(b.stdoutR)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var last time.Time
	for sc.Scan() {
		line := sc.Bytes()
		var m struct {
			MessageType string  `json:"message_type"`
			PercentDone float64 `json:"percent_done"`
			BytesDone   uint64  `json:"bytes_done"`
		}
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch m.MessageType {
		case "summary":
			var s BackupSummary
			if json.Unmarshal(line, &s) == nil {
				b.summary = &s
			}
		case "status":
			b.watch.progress(m.BytesDone)
			if time.Since(last) > 10*time.Second {
				last = time.Now()
				b.c.log().Info("restic backup progress", "bytesDone", m.BytesDone)
			}
		}
	}
	_, _ = io.Copy(io.Discard, b.stdoutR)
}

// Write writes stream bytes to restic's stdin.
func (b *StdinBackup) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if err != nil {
		b.readerGone = errors.Is(err, syscall.EPIPE)
		err = errors.Join(errors.New("restic stopped reading its input"), err)
	}
	return n, err
}

// Finish closes restic's stdin — restic then writes the snapshot — and
// waits for the summary.
func (b *StdinBackup) Finish(ctx context.Context) (*BackupSummary, error) {
	if b.done {
		return nil, errors.New("backup already finished")
	}
	b.done = true
	if err := b.w.Close(); err != nil {
		return nil, b.abortWith(ctx, err)
	}
	var waitErr error
	select {
	case waitErr = <-b.proc.done:
	case <-ctx.Done():
		b.proc.kill()
		<-b.proc.done
		b.wg.Wait()
		b.closeReaders()
		b.c.removeLockOfKilled(ctx)
		return nil, &Error{Kind: KindInterrupted, Command: "backup", ExitCode: -1, Message: ctx.Err().Error()}
	}
	b.wg.Wait()
	b.closeReaders()
	if b.gaveUp != nil {
		return nil, b.gaveUp
	}
	if waitErr != nil {
		if sig, ok := signalOf(waitErr); ok {
			// Killed by someone else: its lock is left, and the signal is
			// the cause.
			b.c.removeLockOfKilled(ctx)
			return nil, killedError("backup", sig, b.stderr.Bytes(), b.c.Location)
		}
		code := -1
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			code = ee.ExitCode()
		}
		return b.summary, classify("backup", code, b.stderr.Bytes(), b.c.Location)
	}
	if b.summary == nil || b.summary.SnapshotID == "" {
		return b.summary, &Error{Command: "backup", Message: "restic printed no summary with a snapshot id"}
	}
	return b.summary, nil
}

// Abort kills restic before its stdin is closed, so that it cannot write a
// snapshot, then removes the lock it left behind. It returns why restic
// failed when restic had already exited on its own (e.g. a repository
// error), or nil.
func (b *StdinBackup) Abort(ctx context.Context) error {
	if b.done {
		return nil
	}
	b.done = true
	return b.abortWith(ctx, nil)
}

func (b *StdinBackup) abortWith(ctx context.Context, cause error) error {
	// Kill first, close after: closing first would be an EOF, and restic
	// commits the snapshot on EOF. A restic that closed its stdin never
	// sees that EOF: let it exit and tell its reason (a full disk, a
	// damaged repository) before it is killed.
	var waitErr error
	killed := true // by us
	if b.readerGone {
		select {
		case waitErr = <-b.proc.done:
			killed = false
		case <-time.After(exitGrace):
			b.proc.kill()
			waitErr = <-b.proc.done
		}
	} else {
		b.proc.kill()
		waitErr = <-b.proc.done
	}
	b.w.Close()
	b.wg.Wait()
	b.closeReaders()
	// An exit code (rather than death by our signal) means restic had
	// stopped on its own, releasing its lock: its reason matters more
	// than ours. Killed, it left its lock behind.
	if b.gaveUp != nil {
		// Stopped while it could not open the repository: it holds no
		// lock there, and its reason is the one that matters.
		return b.gaveUp
	}
	if sig, ok := signalOf(waitErr); ok && !killed {
		// Someone else's signal ended restic, and our write found it
		// gone: the signal is the cause, and its lock is left.
		b.c.removeLockOfKilled(ctx)
		return killedError("backup", sig, b.stderr.Bytes(), b.c.Location)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) && ee.ExitCode() >= 0 {
		rerr := classify("backup", ee.ExitCode(), b.stderr.Bytes(), b.c.Location)
		if b.readerGone {
			return rerr // the broken pipe was only its consequence
		}
		return errors.Join(cause, rerr)
	}
	b.c.removeLockOfKilled(ctx)
	return cause
}

func (b *StdinBackup) closeReaders() {
	b.stdoutR.Close()
	b.stderrR.Close()
}

// SetPipeSize enlarges the pipe behind f as far as the kernel allows, up to
// size; failures are ignored (the default 64 KiB still works).
func SetPipeSize(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		for s := size; s >= 64<<10; s /= 2 {
			if _, err := unix.FcntlInt(fd, unix.F_SETPIPE_SZ, s); err == nil || !errors.Is(err, syscall.EPERM) {
				return
			}
		}
	})
}

// signalOf is the signal that ended a process, from its Wait error.
func signalOf(err error) (syscall.Signal, bool) {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}
