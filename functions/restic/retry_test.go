package restic

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writes is restic's stderr as restic wrote it: each element one write,
// handed to a reader by one Read.
type writes struct{ chunks []string }

func (w *writes) Read(p []byte) (int, error) {
	if len(w.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.chunks[0])
	w.chunks[0] = w.chunks[0][n:]
	if w.chunks[0] == "" {
		w.chunks = w.chunks[1:]
	}
	return n, nil
}

// Real restic 0.18.1 stderr. refused: a rest-server that is not there
// (`restic -r rest:http://u:pw@127.0.0.1:1/r cat config`);
// azureNoContainer: Azurite (as TestCloudBackendsOnEmulators runs it)
// without the container (`restic -r azure:no-such-container:/demo cat
// config`), one notice: restic writes each at once.
const (
	refused = `Stat(<config/>) returned error, retrying after 536.542603ms: Head "http://u:***@127.0.0.1:1/r/config": dial tcp 127.0.0.1:1: connect: connection refused
`
	azureNoContainerFirst = `Stat(<config/>) returned error, retrying after 572.004397ms: blob.GetProperties: HEAD https://stashflowtest.blob.localhost:25187/no-such-container/demo/config
`
	azureNoContainerRest = `--------------------------------------------------------------------------------
RESPONSE 404: 404 The specified container does not exist.
ERROR CODE: ContainerNotFound
--------------------------------------------------------------------------------
Response contained no body
--------------------------------------------------------------------------------

`
	azureNoContainerCause = "blob.GetProperties: HEAD https://stashflowtest.blob.localhost:25187/no-such-container/demo/config; " +
		"RESPONSE 404: 404 The specified container does not exist.; ERROR CODE: ContainerNotFound"
)

// TestRetryNotices feeds restic's retry notices, continuation lines and
// all, through the stderr watch: a cause no retry cures stops restic at
// once whichever line of the notice names it; the limit applies to the
// whole notice; restic's next message ends a notice.
func TestRetryNotices(t *testing.T) {
	type result struct {
		Kind    Kind
		Message string
		Stopped bool
	}
	for _, tc := range []struct {
		name     string
		location string
		limit    time.Duration
		chunks   []string
		want     *result // nil: restic goes on
	}{
		{
			name: "connection refused within the limit", location: "rest:http://u:secretpw@127.0.0.1:1/r", limit: time.Hour,
			chunks: []string{refused, refused},
		},
		{
			name: "connection refused past the limit", location: "rest:http://u:secretpw@127.0.0.1:1/r", limit: time.Nanosecond,
			chunks: []string{refused},
			want: &result{Kind: KindUnreachable, Stopped: true,
				Message: "repository unreachable: rest:http://u:***@127.0.0.1:1/r: dial tcp 127.0.0.1:1: connect: connection refused"},
		},
		{
			name: "azure container not found: on a continuation line", location: "azure:no-such-container:/demo", limit: time.Hour,
			chunks: []string{azureNoContainerFirst + azureNoContainerRest},
			want: &result{Kind: KindNoRepository, Stopped: true,
				Message: `repository does not exist at azure:no-such-container:/demo: the Azure container "no-such-container" does not exist: ` + azureNoContainerCause},
		},
		{
			// The limit passed: the whole notice still says why.
			name: "azure container not found past the limit", location: "azure:no-such-container:/demo", limit: time.Nanosecond,
			chunks: []string{azureNoContainerFirst + azureNoContainerRest},
			want: &result{Kind: KindNoRepository, Stopped: true,
				Message: `repository does not exist at azure:no-such-container:/demo: the Azure container "no-such-container" does not exist: ` + azureNoContainerCause},
		},
		{
			name: "azure container not found: the notice in two writes", location: "azure:no-such-container:/demo", limit: time.Hour,
			chunks: []string{azureNoContainerFirst, azureNoContainerRest},
			want: &result{Kind: KindNoRepository, Stopped: true,
				Message: `repository does not exist at azure:no-such-container:/demo: the Azure container "no-such-container" does not exist: ` + azureNoContainerCause},
		},
		{
			name: "s3 bucket missing: a one-line notice", location: "s3:http://127.0.0.1:9000/no-such-bucket/repo", limit: time.Hour,
			chunks: []string{"Stat(<config/>) returned error, retrying after 552.330144ms: Stat: The specified bucket does not exist\n"},
			want: &result{Kind: KindNoRepository, Stopped: true,
				Message: "repository does not exist at s3:http://127.0.0.1:9000/no-such-bucket/repo: Stat: The specified bucket does not exist"},
		},
		{
			name: "retried and then successful", location: "rest:http://u:secretpw@127.0.0.1:1/r", limit: time.Hour,
			chunks: []string{refused, "Stat(<config/>) operation successful after 1 retries\n"},
		},
		{
			// A JSON message after the notice is restic's next message,
			// not more of the notice's cause.
			name: "restic's next message ends the notice", location: "azure:c:/demo", limit: time.Hour,
			chunks: []string{azureNoContainerFirst + `{"message_type":"error","error":{"message":"ContainerNotFound"},"during":"scan","item":"/x"}` + "\n"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &retryWatch{command: "cat", location: tc.location, start: time.Now(), limit: tc.limit}
			var tail tailBuffer
			stopped := false
			e := watchStderr(&writes{chunks: append([]string(nil), tc.chunks...)}, &tail, w, func() { stopped = true })
			var got *result
			if e != nil || stopped {
				got = &result{Stopped: stopped}
				if e != nil {
					got.Kind, got.Message = e.Kind, e.Message
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("watch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(strings.Join(tc.chunks, ""), string(tail.Bytes())); diff != "" {
				t.Errorf("stderr kept (-want +got):\n%s", diff)
			}
			if got != nil && strings.Contains(got.Message, "secretpw") {
				t.Errorf("the message holds the password: %q", got.Message)
			}
		})
	}
}
