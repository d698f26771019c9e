package local

import (
	"bytes"
	"os"
	"regexp"
	"strings"
)

// headSize is how much of the start of an attempt's log is read for the
// first meaningful line.
const headSize = 4 << 10

// Lines that say nothing about why a step failed: our own structured log
// lines, progress displays, restic's and tar's generic summaries and
// restic's chatter. The line that names the cause (tar's "Cannot open:
// Permission denied", pg_dump's "connection refused", restic's "open …:
// permission denied") is none of these.
var (
	reSlog      = regexp.MustCompile(`^time=\S+ level=`)
	reProgress  = regexp.MustCompile(`^(\[\d+:\d{2}(:\d{2})?\]|\d+(\.\d+)?%)`)
	reExit      = regexp.MustCompile(`(?i)^(error: )?exit (status|code) \d+$`)
	reJSONNoise = regexp.MustCompile(`^\{.*"message_type":\s*"(status|summary|verbose_status)"`)
	generic     = []string{
		"at least one source file could not be read",
		"error is not recoverable: exiting now",
		"exiting with failure status due to previous errors",
		"please note that knowledge of your password",
		"losing your password means that your data is",
		"irrecoverably lost.",
		"created restic repository",
		"using parent snapshot",
		"no parent snapshot found",
		"open repository",
		"lock repository",
		"load index files",
		"start scan on",
		"start backup on",
		"added to the repository",
		"enter password for repository",
	}
	genericPrefixes = []string{"repository ", "files:", "dirs:", "processed ", "snapshot "}
	// reErrorish finds the words a line that names a failure uses; the
	// first such line of a log is its cause, where a step's ordinary
	// output ("starting the dump", "checked pack 0") is not.
	reErrorish = regexp.MustCompile(`(?i)\b(errors?|fail(s|ed|ure)?|fatal|cannot|can't|could ?not|couldn't|unable|denied|refused|not found|no such|invalid|missing|timed? ?out|unreachable|broken|corrupt(ed)?|panic|killed|abort(ed)?|mismatch|forbidden|unauthori[sz]ed|not permitted|no space)\b`)
)

// meaningful reports whether a log line (trimmed, the last frame of a
// progress display) may say why a step failed.
func meaningful(line string) bool {
	if line == "" || reSlog.MatchString(line) || reProgress.MatchString(line) ||
		reExit.MatchString(line) || reJSONNoise.MatchString(line) {
		return false
	}
	lower := strings.ToLower(line)
	for _, g := range generic {
		if strings.Contains(lower, g) {
			return false
		}
	}
	for _, p := range genericPrefixes {
		if strings.HasPrefix(lower, p) {
			return false
		}
	}
	return true
}

// logLines splits part of a log into its non-empty lines, trimmed, a
// progress display reduced to what it showed last. cutStart and cutEnd say
// that the part begins or ends inside a line: that partial line is dropped.
func logLines(b []byte, cutStart, cutEnd bool) []string {
	parts := bytes.Split(b, []byte("\n"))
	if cutStart {
		parts = parts[1:]
	}
	if cutEnd && len(parts) > 0 && len(parts[len(parts)-1]) > 0 {
		parts = parts[:len(parts)-1]
	}
	var out []string
	for _, p := range parts {
		p = bytes.TrimSpace(p)
		if j := bytes.LastIndexByte(p, '\r'); j >= 0 && j < len(p)-1 {
			p = bytes.TrimSpace(p[j+1:])
		}
		if len(p) > 0 {
			out = append(out, string(p))
		}
	}
	return out
}

// causeOf says why a failed attempt failed, from the start (head) and the
// end (tail) of its log: the first meaningful line that names a failure
// (reErrorish), and the last meaningful line when it is another; when no
// line names a failure, the last meaningful line; when none is
// meaningful, the last line. Each line has
// the step's secret values replaced before it is made printable and cut
// to maxLineLen, so that no part of a value is quoted.
func causeOf(head, tail []string, red *redactor) string {
	quote := func(s string) string {
		if red != nil {
			s = red.redact(s)
		}
		return printable([]byte(s))
	}
	first, last := "", ""
	for _, l := range head {
		if meaningful(l) && reErrorish.MatchString(l) {
			first = l
			break
		}
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if meaningful(tail[i]) {
			last = tail[i]
			break
		}
	}
	switch {
	case first == "" && last == "":
		if len(tail) == 0 {
			return ""
		}
		return quote(tail[len(tail)-1])
	case first == "" || first == last:
		return quote(last)
	case last == "":
		return quote(first)
	}
	return quote(first) + " … " + quote(last)
}

// logCause is causeOf the log at logPath: its first headSize and last
// tailSize bytes.
func logCause(logPath string, red *redactor) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	size := fi.Size()
	head := make([]byte, min(size, headSize))
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	off := max(size-tailSize, 0)
	tail := make([]byte, size-off)
	n, _ = f.ReadAt(tail, off)
	tail = tail[:n]
	return causeOf(logLines(head, false, size > headSize), logLines(tail, off > 0, false), red)
}
