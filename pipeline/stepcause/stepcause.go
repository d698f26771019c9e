package stepcause

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"
)

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

// Meaningful reports whether a log line (trimmed, the last frame of a
// progress display) may say why a step failed.
func Meaningful(line string) bool {
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

// Lines splits part of a log into its non-empty lines, trimmed, a
// progress display reduced to what it showed last. cutStart and cutEnd say
// that the part begins or ends inside a line: that partial line is dropped.
func Lines(b []byte, cutStart, cutEnd bool) []string {
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

// Of says why a failed attempt failed, from the start (head) and the end
// (tail) of its log: the first meaningful line that names a failure
// (reErrorish), and the last meaningful line when it is another (joined by
// " … "); when no line names a failure, the last meaningful line; when none
// is meaningful, the last line. Each line quoted goes through redact (nil:
// none) before it is made printable and cut to MaxLineLen, so that no part
// of a secret value is quoted.
func Of(head, tail []string, redact func(string) string) string {
	quote := func(s string) string {
		if redact != nil {
			s = redact(s)
		}
		return Printable([]byte(s))
	}
	first, last := "", ""
	for _, l := range head {
		if Meaningful(l) && reErrorish.MatchString(l) {
			first = l
			break
		}
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if Meaningful(tail[i]) {
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

// OfText is Of a whole short log (a container's termination message):
// its lines are both the head and the tail.
func OfText(text string, redact func(string) string) string {
	lines := Lines([]byte(text), false, false)
	return Of(lines, lines, redact)
}

// MaxLineLen bounds a log line quoted in a message (a restic error naming a
// lock and its holder takes 300 bytes).
const MaxLineLen = 1000

// Printable makes a log line fit for a message: tabs become spaces, control
// characters and invalid UTF-8 '?', and it is cut to MaxLineLen bytes
// ("…" marks the cut).
func Printable(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 && sb.Len() < MaxLineLen {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '\t':
			sb.WriteByte(' ')
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f:
			sb.WriteRune('?')
		default:
			sb.WriteRune(r)
		}
	}
	if len(b) > 0 {
		sb.WriteString("…")
	}
	return sb.String()
}
