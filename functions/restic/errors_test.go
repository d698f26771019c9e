package restic

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// azureDashes is the separator azcore puts around an Azure error response.
const azureDashes = "--------------------------------------------------------------------------------"

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		stderr   string
		wantKind Kind
		wantMsg  string
	}{
		{
			name: "no repository", code: 10,
			stderr:   `{"message_type":"exit_error","code":10,"message":"Fatal: repository does not exist: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r"}`,
			wantKind: KindNoRepository, wantMsg: "repository does not exist at rest:http://u:***@h/r",
		},
		{
			name: "wrong password", code: 12,
			stderr:   `{"message_type":"exit_error","code":12,"message":"Fatal: wrong password or no key found"}`,
			wantKind: KindWrongPassword, wantMsg: "wrong password (no key in the repository matches RESTIC_PASSWORD)",
		},
		{
			name: "locked", code: 11,
			stderr:   `{"message_type":"exit_error","code":11,"message":"unable to create lock in backend: repository is already locked by PID 1 on h by root (UID 0, GID 0)\nlock was created at 2026-01-01 00:00:00 (1s ago)\nstorage ID bd92d421"}`,
			wantKind: KindLocked, wantMsg: "unable to create lock in backend: repository is already locked by PID 1 on h by root (UID 0, GID 0); lock was created at 2026-01-01 00:00:00 (1s ago); storage ID bd92d421",
		},
		{
			name: "unreachable", code: 1,
			stderr:   "Load(<key/1>) returned error, retrying after 1s: x\n" + `{"message_type":"exit_error","code":1,"message":"Fatal: unable to open repository at rest:http://u:***@h/r: Get \"http://u:***@h/r/keys/\": dial tcp 10.0.0.1:80: connect: connection refused"}`,
			wantKind: KindUnreachable, wantMsg: `unable to open repository at rest:http://u:***@h/r: Get "http://u:***@h/r/keys/": dial tcp 10.0.0.1:80: connect: connection refused`,
		},
		{
			// restic 0.18.1's stderr against rest-server --htpasswd-file with a
			// wrong RESTIC_REST_PASSWORD (TestAccessDeniedOnRealServers).
			name: "rest-server refuses the credentials", code: 1,
			stderr: "Stat(<config/>) failed: unexpected HTTP response (401): 401 Unauthorized\n" +
				`{"message_type":"exit_error","code":1,"message":"Fatal: unable to open config file: unexpected HTTP response (401): 401 Unauthorized\nIs there a repository at the following location?\nrest:http://127.0.0.1:27615/repo/"}`,
			wantKind: KindAccessDenied, wantMsg: "credentials rejected by rest:http://u:***@h/r: unable to open config file: unexpected HTTP response (401): 401 Unauthorized",
		},
		{
			// restic 0.18.1's stderr against Azurite with a wrong
			// AZURE_ACCOUNT_KEY (TestAccessDeniedOnRealServers).
			name: "Azure refuses the key", code: 1,
			stderr: "Stat(<config/>) failed: blob.GetProperties: HEAD https://stashflowtest.blob.localhost:28186/stashflow-test/repo/config\n" + azureDashes + "\n" +
				"RESPONSE 403: 403 Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.\nERROR CODE: AuthorizationFailure\n" +
				azureDashes + "\nResponse contained no body\n" + azureDashes + "\n\n" +
				`{"message_type":"exit_error","code":1,"message":"Fatal: unable to open config file: blob.GetProperties: HEAD https://stashflowtest.blob.localhost:28186/stashflow-test/repo/config\n` + azureDashes +
				`\nRESPONSE 403: 403 Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.\nERROR CODE: AuthorizationFailure\n` +
				azureDashes + `\nResponse contained no body\n` + azureDashes + `\n\nIs there a repository at the following location?\nazure:stashflow-test:/repo"}`,
			wantKind: KindAccessDenied,
			wantMsg: "credentials rejected by rest:http://u:***@h/r: unable to open config file: blob.GetProperties: HEAD https://stashflowtest.blob.localhost:28186/stashflow-test/repo/config; " + azureDashes +
				"; RESPONSE 403: 403 Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.; ERROR CODE: AuthorizationFailure; " +
				azureDashes + "; Response contained no body; " + azureDashes,
		},
		{
			name: "backup error line without exit_error", code: 1,
			stderr:   `{"message_type":"error","error":{"message":"read /x: permission denied"},"during":"archival","item":"/x"}`,
			wantKind: KindOther, wantMsg: "/x: read /x: permission denied",
		},
		{
			name: "unreadable source files: the first says why", code: 3,
			stderr: `{"message_type":"error","error":{"message":"open /s/key: permission denied"},"during":"archival","item":"/s/key"}` + "\n" +
				`{"message_type":"error","error":{"message":"open /s/other: permission denied"},"during":"archival","item":"/s/other"}` + "\n" +
				`{"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}`,
			wantKind: KindInvalidData, wantMsg: "/s/key: open /s/key: permission denied (at least one source file could not be read)",
		},
		{
			name: "plain text", code: 2, stderr: "something odd\nreally odd\n",
			wantKind: KindOther, wantMsg: "really odd",
		},
		{
			name: "nothing", code: 7, stderr: "",
			wantKind: KindOther, wantMsg: "exit status 7",
		},
		{
			name: "credentials in a message", code: 1, stderr: `{"message_type":"exit_error","code":1,"message":"Fatal: s3 https://AK:SECRET@s3.example/b failed"}`,
			wantKind: KindOther, wantMsg: "s3 https://AK:***@s3.example/b failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify("test", tt.code, []byte(tt.stderr), "rest:http://u:pw@h/r")
			if diff := cmp.Diff(tt.wantKind, e.Kind); diff != "" {
				t.Errorf("kind (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMsg, e.Message); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactLocation(t *testing.T) {
	for in, want := range map[string]string{
		"/srv/repo":                           "/srv/repo",
		"rest:http://127.0.0.1:8000/r":        "rest:http://127.0.0.1:8000/r",
		"rest:https://user:pw@host:8000/r/":   "rest:https://user:***@host:8000/r/",
		"s3:https://AKIA:secret@minio/bucket": "s3:https://AKIA:***@minio/bucket",
		"sftp:user@host:/srv/repo":            "sftp:user@host:/srv/repo",
	} {
		if got := RedactLocation(in); got != want {
			t.Errorf("RedactLocation(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRetry(t *testing.T) {
	d, msg, ok := parseRetry(`Stat(<config/>) returned error, retrying after 1.894668112s: Head "http://:***@127.0.0.1:1/config": dial tcp 127.0.0.1:1: connect: connection refused`)
	if !ok || d.Round(time.Millisecond) != 1895*time.Millisecond || msg != "dial tcp 127.0.0.1:1: connect: connection refused" {
		t.Errorf("parseRetry = %v, %q, %v", d, msg, ok)
	}
	if _, _, ok := parseRetry("some other line"); ok {
		t.Error("parsed a line that is no retry notice")
	}
}

func TestHopelessRetry(t *testing.T) {
	for _, tc := range []struct {
		cause string
		want  Kind
		ok    bool
	}{
		{"Stat: The specified bucket does not exist", KindNoRepository, true},
		{"storage: bucket doesn't exist", KindNoRepository, true},
		{"blob.GetProperties: HEAD https://acct.blob.core.windows.net/c/demo/config; RESPONSE 404: 404 The specified container does not exist.; ERROR CODE: ContainerNotFound", KindNoRepository, true},
		{"blob.GetProperties: HEAD https://acct.blob.core.windows.net/c/demo/config", KindOther, false},
		{"Stat: The request signature we calculated does not match the signature you provided.", KindAccessDenied, true},
		{"Stat: The Access Key Id you provided does not exist in our records.", KindAccessDenied, true},
		{"Stat: Access Denied.", KindAccessDenied, true},
		{`Get "https://storage.googleapis.com/storage/v1/b/x/o/config": oauth2: cannot fetch token: 400 Bad Request`, KindAccessDenied, true},
		{`Response: {"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, KindAccessDenied, true},
		{"oauth2: cannot fetch token: 503 Service Unavailable", KindOther, false},
		{"403 Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly", KindAccessDenied, true},
		{"dial tcp 127.0.0.1:1: connect: connection refused", KindOther, false},
		{`tls: failed to verify certificate: x509: certificate signed by unknown authority`, KindUntrustedTLS, true},
		{"unexpected HTTP response (500): 500 Internal Server Error", KindOther, false},
	} {
		k, ok := hopelessRetry(tc.cause)
		if k != tc.want || ok != tc.ok {
			t.Errorf("hopelessRetry(%q) = %v, %v; want %v, %v", tc.cause, k, ok, tc.want, tc.ok)
		}
	}
}
