package restic

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
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

	// pending is the retry notice being read (only the stderr reader
	// touches it).
	pending *notice
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

// notice is the retry notice being read. restic prints one per failed try
// of a backend operation: a first line `Op(<type/name>) returned error,
// retrying after D: cause`, and for some backends more lines of the same
// cause (Azure's SDK puts the HTTP status and the error code, e.g.
// `ERROR CODE: ContainerNotFound`, on lines of their own).
type notice struct {
	first string        // the first line
	next  time.Duration // restic's wait before the next try
	cause []string      // the cause: the first line's, then the continuation lines
	// judged: the limit and stall rules have been applied (at a pause);
	// later continuation lines are still read for a hopeless cause.
	judged bool
}

// text is the notice's cause on one line, without the SDK's separator and
// empty-body lines.
func (n *notice) text() string {
	parts := make([]string, 0, len(n.cause))
	for _, l := range n.cause {
		l = strings.TrimSpace(l)
		if l == "" || strings.Trim(l, "-") == "" || l == "Response contained no body" {
			continue
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, "; ")
}

// endsNotice reports whether a stderr line is restic's next message rather
// than a continuation line of the notice being read: a JSON message or
// restic's note that a retried operation succeeded.
func endsNotice(line string) bool {
	return strings.HasPrefix(line, `{"message_type"`) || strings.Contains(line, " operation successful after ")
}

// line reads one stderr line and returns the error to stop restic with,
// or nil to let it go on. The rules apply to a notice once it is whole: at
// restic's next message or at a pause (see pause).
func (w *retryWatch) line(line string) *Error {
	if next, cause, ok := parseRetry(line); ok {
		e := w.endNotice()
		w.pending = &notice{first: line, next: next, cause: []string{cause}}
		return e
	}
	if w.pending == nil {
		return nil
	}
	if endsNotice(line) {
		e := w.endNotice()
		w.pending = nil
		return e
	}
	w.pending.cause = append(w.pending.cause, line)
	return nil
}

// pause says that restic has written whole lines and nothing more for
// now. restic writes a notice at once, so the notice read so far is whole:
// a cause no retry cures stops restic, and the limit and stall rules
// apply. Should a write of restic's come in pieces, the lines after the
// pause still count for a cause no retry cures.
func (w *retryWatch) pause() *Error {
	return w.endNotice()
}

func azureContainerOf(location string) string {
	c, _, _ := AzureLocation(location)
	return c
}

// hopeless is the error for a notice whose cause no retry cures, or nil.
func (w *retryWatch) hopeless(cause string) *Error {
	k, ok := hopelessRetry(cause)
	if !ok {
		return nil
	}
	msg := "credentials rejected by " + RedactLocation(w.location) + ": "
	switch {
	case k == KindNoRepository && reNoContainer.MatchString(cause):
		// A missing container is a missing repository, as a missing bucket
		// is: a step that initialises one lets restic's init create it.
		msg = "repository does not exist at " + RedactLocation(w.location) + ": the Azure container " +
			strconv.Quote(azureContainerOf(w.location)) + " does not exist: "
	case k == KindNoRepository:
		msg = "repository does not exist at " + RedactLocation(w.location) + ": "
	case k == KindUntrustedTLS:
		msg = untrustedHint + RedactLocation(w.location) + ": "
	}
	return &Error{Kind: k, Command: w.command, ExitCode: -1, Message: msg + oneLine(stripCreds(cause))}
}

// endNotice applies the rules to the notice read so far: a cause no retry
// cures every time, the stall and limit rules once.
func (w *retryWatch) endNotice() *Error {
	n := w.pending
	if n == nil {
		return nil
	}
	cause := n.text()
	if e := w.hopeless(cause); e != nil {
		return e
	}
	if n.judged {
		return nil
	}
	n.judged = true
	if e := w.stalled(n.next, cause); e != nil {
		return e
	}
	if w.limit <= 0 || time.Since(w.start)+n.next <= w.limit {
		return nil
	}
	if w.openOnly {
		m := reRetryOp.FindStringSubmatch(strings.TrimSpace(n.first))
		if m == nil || (m[2] != "config" && m[2] != "key" && m[2] != "lock") {
			return nil
		}
	}
	return &Error{Kind: KindUnreachable, Command: w.command, ExitCode: -1,
		Message: "repository unreachable: " + RedactLocation(w.location) + ": " + oneLine(stripCreds(cause))}
}

// watchStderr reads restic's stderr until it closes: every line goes to
// tail and to w; the first error w returns is returned, after stop is
// called. A read that ends on a line's end is a pause of restic's (w.pause).
func watchStderr(r io.Reader, tail *tailBuffer, w *retryWatch, stop func()) *Error {
	var gaveUp *Error
	feed := func(e *Error) {
		if gaveUp == nil && e != nil {
			gaveUp = e
			stop()
		}
	}
	buf := make([]byte, 64<<10)
	var partial []byte
	for {
		n, err := r.Read(buf)
		data := buf[:n]
		if len(partial) > 0 {
			data = append(partial, data...)
		}
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			tail.Write(data[:i+1])
			if gaveUp == nil {
				feed(w.line(string(data[:i])))
			}
			data = data[i+1:]
		}
		if len(data) > maxLine {
			// Not a line anyone reads whole: keep its start.
			tail.Write(append(data[:256:256], '\n'))
			data = nil
		}
		partial = append(partial[:0], data...)
		if len(partial) == 0 && n > 0 && gaveUp == nil {
			feed(w.pause())
		}
		if err != nil {
			if len(partial) > 0 {
				tail.Write(append(partial, '\n'))
				if gaveUp == nil {
					feed(w.line(string(partial)))
				}
			}
			return gaveUp
		}
	}
}

// AzureLocation splits restic's azure:<container>:/<prefix> location into
// its container and the path within it (as written); ok is false when it
// is not of that form.
func AzureLocation(location string) (container, path string, ok bool) {
	rest, _ := strings.CutPrefix(location, "azure:")
	container, path, found := strings.Cut(rest, ":")
	return container, path, found && container != ""
}

// maxLine is the longest stderr line read whole.
const maxLine = 1 << 20
