package restic

import (
	"bytes"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// retryWatch reads restic's stderr for its backend retry notices and says
// when to stop restic rather than let it retry (restic alone retries for 15
// minutes): at once for a cause no retry cures (a missing bucket, rejected
// credentials), and for any other cause once the next try would come after
// limit. With openOnly, only retries of what opening a repository reads
// (its config, keys and locks) count against limit: a backup's uploads may
// outlast a short network blip.
//
// With stall set, a backend that stops answering in the middle of the work
// stops restic too: once restic has kept retrying for stall without the work
// moving on (progress, fed from restic's status lines), restic is stopped
// and the backend named, rather than left to retry for minutes.
type retryWatch struct {
	command  string
	location string
	start    time.Time
	limit    time.Duration // 0: only hopeless causes stop restic
	openOnly bool
	stall    time.Duration // 0: no stall rule

	// lastProgress is when the work last moved on (unix nanoseconds);
	// streakStart is the first retry notice since then (0: none).
	lastProgress atomic.Int64
	streakStart  int64
	done         atomic.Uint64
}

// progress records the work's counter (bytes done); a larger value than the
// last one ends a streak of retries.
func (w *retryWatch) progress(done uint64) {
	if prev := w.done.Load(); done > prev && w.done.CompareAndSwap(prev, done) {
		w.lastProgress.Store(time.Now().UnixNano())
	}
}

// stalled applies the stall rule to one retry notice.
func (w *retryWatch) stalled(next time.Duration, cause string) *Error {
	if w.stall <= 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if w.streakStart == 0 || w.lastProgress.Load() > w.streakStart {
		w.streakStart = now
	}
	if time.Duration(now-w.streakStart)+next <= w.stall {
		return nil
	}
	return &Error{Kind: KindUnreachable, Command: w.command, ExitCode: -1,
		Message: "the repository backend " + RedactLocation(w.location) + " stopped answering: no progress for " +
			w.stall.String() + " while restic retried (" + EnvStallTimeout + "): " + oneLine(stripCreds(cause))}
}

// progressLines feeds a watch from restic's --json stdout: every status
// line's bytes_done (backup) or bytes_restored (restore) is progress.
type progressLines struct {
	w       *retryWatch
	partial []byte
}

func (p *progressLines) Write(b []byte) (int, error) {
	data := b
	if len(p.partial) > 0 {
		data = append(p.partial, b...)
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if n, ok := statusCounter(data[:i]); ok {
			p.w.progress(n)
		}
		data = data[i+1:]
	}
	if len(data) > 64<<10 {
		data = nil // not a status line
	}
	p.partial = append(p.partial[:0], data...)
	return len(b), nil
}

var reStatusCounter = regexp.MustCompile(`"(?:bytes_done|bytes_restored|files_done|files_restored)":(\d+)`)

// statusCounter sums the counters of one status line.
func statusCounter(line []byte) (uint64, bool) {
	if !bytes.Contains(line, []byte(`"message_type":"status"`)) && !bytes.Contains(line, []byte(`"message_type":"verbose_status"`)) {
		return 0, false
	}
	var sum uint64
	found := false
	for _, m := range reStatusCounter.FindAllSubmatch(line, -1) {
		var n uint64
		for _, c := range m[1] {
			n = n*10 + uint64(c-'0')
		}
		sum += n
		found = true
	}
	return sum, found
}

// reRetryOp matches the operation of a retry notice, e.g. `Stat(<config/>)`.
var reRetryOp = regexp.MustCompile(`^(\w+)\(<(\w+)/`)

// check returns the error to report for one stderr line, or nil to let
// restic go on.
func (w *retryWatch) check(line string) *Error {
	next, cause, ok := parseRetry(line)
	if !ok {
		return nil
	}
	if k, ok := hopelessRetry(cause); ok {
		msg := "credentials rejected by " + RedactLocation(w.location) + ": "
		switch k {
		case KindNoRepository:
			msg = "repository does not exist at " + RedactLocation(w.location) + ": "
		case KindUntrustedTLS:
			msg = untrustedHint + RedactLocation(w.location) + ": "
		}
		return &Error{Kind: k, Command: w.command, ExitCode: -1, Message: msg + oneLine(stripCreds(cause))}
	}
	if e := w.stalled(next, cause); e != nil {
		return e
	}
	if w.limit <= 0 || time.Since(w.start)+next <= w.limit {
		return nil
	}
	if w.openOnly {
		m := reRetryOp.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || (m[2] != "config" && m[2] != "key" && m[2] != "lock") {
			return nil
		}
	}
	return &Error{Kind: KindUnreachable, Command: w.command, ExitCode: -1,
		Message: "repository unreachable: " + RedactLocation(w.location) + ": " + stripCreds(cause)}
}
