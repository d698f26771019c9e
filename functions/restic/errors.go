package restic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Kind classifies a restic failure.
type Kind int

// Kinds of failure.
const (
	KindOther            Kind = iota
	KindNoRepository          // exit 10: there is no repository at the location
	KindLocked                // exit 11: a conflicting lock is held
	KindWrongPassword         // exit 12: no key matches the password
	KindUnreachable           // the backend cannot be reached (connection refused, DNS, timeout)
	KindNoSnapshot            // no snapshot matches
	KindInvalidData           // exit 3: some source data could not be read
	KindInterrupted           // exit 130 or killed by us
	KindNotFound              // the restic binary is missing
	KindCheckFailed           // `restic check` found errors
	KindRepositoryConfig      // RESTIC_REPOSITORY / password missing or malformed
	KindAccessDenied          // the backend rejected the credentials or refused access
	KindUntrustedTLS          // the backend's TLS certificate does not verify
)

// Error is a failed restic command.
type Error struct {
	Kind     Kind
	Command  string // restic subcommand, e.g. "backup"
	ExitCode int
	// Message is one line, credentials removed.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("restic %s: %s", e.Command, e.Message)
}

// IsKind reports whether err is a restic *Error of kind k.
func IsKind(err error, k Kind) bool {
	var re *Error
	return errors.As(err, &re) && re.Kind == k
}

// exitError is restic's last stderr line under --json when it fails.
type exitError struct {
	MessageType string `json:"message_type"`
	Code        int    `json:"code"`
	Message     string `json:"message"`
}

// errorMessage is the shape of other JSON error lines (backup, restore,
// check) restic prints.
type errorMessage struct {
	MessageType string          `json:"message_type"`
	Message     string          `json:"message"`
	Error       json.RawMessage `json:"error"`
	During      string          `json:"during"`
	Item        string          `json:"item"`
}

var (
	reUnreachable = regexp.MustCompile(`(?i)(connection refused|no such host|i/o timeout|network is unreachable|no route to host|connection reset|TLS handshake|dial tcp|server misbehaving|context deadline exceeded)`)
	reURLCreds    = regexp.MustCompile(`(\b[a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s:]*):([^/@\s]*)@`)
)

// Backend failures restic retries although retrying cannot help: a bucket
// or an Azure container that does not exist (restic's `cat config` retries
// it instead of reporting "no repository"; `init` creates the bucket) and
// rejected credentials.
var (
	reNoBucket = regexp.MustCompile(`(?i)(specified bucket does not exist|NoSuchBucket|bucket doesn't exist)`)
	// A missing Azure container is a missing repository, as a missing
	// bucket is: restic's init creates it (as it does under Stash); other
	// commands fail at once naming it.
	reNoContainer = regexp.MustCompile(`(?i)(specified container does not exist|ContainerNotFound)`)
	reUntrusted   = regexp.MustCompile(`x509: |tls: failed to verify certificate`)
	reDenied      = regexp.MustCompile(`(?i)(signature we calculated does not match|access key id you provided does not exist|InvalidAccessKeyId|SignatureDoesNotMatch|access denied|AccessDenied|401 Unauthorized|403 Forbidden|oauth2: cannot fetch token: 40[013]|invalid_grant|failed to authenticate the request)`)
)

// hopelessRetry classifies the cause in a backend retry notice that no
// retry will cure; ok is false for the others (a refused connection may
// come back).
func hopelessRetry(cause string) (Kind, bool) {
	switch {
	case reNoBucket.MatchString(cause):
		return KindNoRepository, true
	case reNoContainer.MatchString(cause):
		return KindNoRepository, true
	case reDenied.MatchString(cause):
		return KindAccessDenied, true
	case reUntrusted.MatchString(cause):
		return KindUntrustedTLS, true
	}
	return KindOther, false
}

// untrustedHint says what to do about a certificate that does not verify.
const untrustedHint = "TLS certificate of the backend not trusted (put the CA that signed it in the storage Secret as CA_CERT_DATA): "

// classify builds an *Error from restic's exit code and stderr.
func classify(command string, code int, stderr []byte, location string) *Error {
	e := &Error{Command: command, ExitCode: code}
	msg := ""
	// The exit_error line is the last JSON line; other JSON error lines
	// (e.g. backup's "error" messages) are kept as a fallback.
	var lastPlain, firstJSONErr, lastJSONErr string
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "{") {
			var ee exitError
			if json.Unmarshal([]byte(line), &ee) == nil && ee.MessageType == "exit_error" {
				msg = ee.Message
				continue
			}
			var em errorMessage
			if json.Unmarshal([]byte(line), &em) == nil && em.MessageType == "error" {
				lastJSONErr = errorText(em)
				if firstJSONErr == "" {
					firstJSONErr = lastJSONErr
				}
			}
			continue
		}
		lastPlain = line
	}
	if msg == "" {
		msg = lastJSONErr
	}
	if msg == "" {
		msg = lastPlain
	}
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", code)
	}
	switch code {
	case 3:
		e.Kind = KindInvalidData
		// restic's exit_error only says that some file could not be read;
		// the first error line says which and why.
		if firstJSONErr != "" && firstJSONErr != msg {
			msg = firstJSONErr + " (" + strings.TrimPrefix(msg, "Warning: ") + ")"
		}
	case 10:
		e.Kind = KindNoRepository
		msg = "repository does not exist at " + RedactLocation(location)
	case 11:
		e.Kind = KindLocked
	case 12:
		e.Kind = KindWrongPassword
		msg = "wrong password (no key in the repository matches RESTIC_PASSWORD)"
	case 130:
		e.Kind = KindInterrupted
	default:
		if reUnreachable.MatchString(msg) {
			e.Kind = KindUnreachable
		}
		if reUntrusted.MatchString(msg) {
			e.Kind = KindUntrustedTLS
			msg = untrustedHint + msg
		}
		if strings.Contains(msg, "no matching ID found") || strings.Contains(msg, "no snapshot found") {
			e.Kind = KindNoSnapshot
		}
		if reDenied.MatchString(msg) && e.Kind == KindOther {
			// The backend refused the credentials and restic gave up
			// (rest-server's 401, Azure's final 403): what its retry
			// notices say at once (hopelessRetry), said at exit. restic's
			// hint that there may be no repository is beside the point.
			e.Kind = KindAccessDenied
			msg, _, _ = strings.Cut(strings.TrimPrefix(msg, "Fatal: "), "Is there a repository at the following location?")
			msg = "credentials rejected by " + RedactLocation(location) + ": " + strings.TrimSpace(msg)
		}
	}
	e.Message = oneLine(stripCreds(strings.TrimPrefix(msg, "Fatal: ")))
	return e
}

func errorText(em errorMessage) string {
	var obj struct {
		Message string `json:"message"`
	}
	text := ""
	if json.Unmarshal(em.Error, &obj) == nil && obj.Message != "" {
		text = obj.Message
	} else if len(em.Error) > 0 {
		var s string
		if json.Unmarshal(em.Error, &s) == nil {
			text = s
		}
	}
	if text == "" {
		text = em.Message
	}
	if em.Item != "" {
		text = em.Item + ": " + text
	}
	return text
}

// oneLine folds a multi-line message into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// stripCreds replaces the password part of user:password@ in URLs.
func stripCreds(s string) string {
	return reURLCreds.ReplaceAllString(s, "$1$2:***@")
}

// RedactLocation returns a repository location fit for messages: a
// password in a URL (rest:https://user:pw@host/) is replaced by ***.
func RedactLocation(loc string) string {
	scheme, rest, ok := strings.Cut(loc, ":")
	if !ok || (scheme != "rest" && scheme != "s3") {
		return stripCreds(loc)
	}
	u, err := url.Parse(rest)
	if err != nil || u.User == nil {
		return stripCreds(loc)
	}
	const placeholder = "STASHFLOWREDACTED"
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), placeholder)
	}
	return scheme + ":" + strings.Replace(u.String(), placeholder, "***", 1)
}
