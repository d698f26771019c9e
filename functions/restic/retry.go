package restic

import (
	"regexp"
	"strings"
	"time"
)

// retryWatch reads restic's stderr for its backend retry notices and says
// when to stop restic rather than let it retry (restic alone retries for 15
// minutes): at once for a cause no retry cures (a missing bucket, rejected
// credentials), and for any other cause once the next try would come after
// limit. With openOnly, only retries of what opening a repository reads
// (its config, keys and locks) count against limit: a backup's uploads may
// outlast a short network blip.
type retryWatch struct {
	command  string
	location string
	start    time.Time
	limit    time.Duration // 0: only hopeless causes stop restic
	openOnly bool
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
		if k == KindNoRepository {
			msg = "repository does not exist at " + RedactLocation(w.location) + ": "
		}
		return &Error{Kind: k, Command: w.command, ExitCode: -1, Message: msg + oneLine(stripCreds(cause))}
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
