package restic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/testservers"
)

// TestCredentialFiles: Stash's CA_CERT_DATA and GOOGLE_SERVICE_ACCOUNT_JSON_KEY
// become 0600 files in a fresh directory under the scratch directory, named
// by RESTIC_CACERT and GOOGLE_APPLICATION_CREDENTIALS; the values leave the
// environment; cleanup removes the files; a value that is not what its key
// says fails naming the key, never echoing the value, and leaves nothing.
func TestCredentialFiles(t *testing.T) {
	ca := testservers.NewTLS(t).CA
	const gkey = `{"type":"service_account","private_key":"k-8d1f"}`
	tests := []struct {
		name    string
		environ []string
		want    []string          // environ returned, file paths as <FILE>
		files   map[string]string // variable → content of its file
		wantErr string
	}{
		{name: "nothing to write", environ: []string{"A=1", "RESTIC_PASSWORD=p"}, want: []string{"A=1", "RESTIC_PASSWORD=p"}},
		{name: "CA", environ: []string{"A=1", "CA_CERT_DATA=" + ca}, want: []string{"A=1", "RESTIC_CACERT=<FILE>"}, files: map[string]string{"RESTIC_CACERT": ca}},
		{
			name:    "GCS key replaces a path",
			environ: []string{"GOOGLE_APPLICATION_CREDENTIALS=/nowhere", "GOOGLE_SERVICE_ACCOUNT_JSON_KEY=" + gkey, "GOOGLE_PROJECT_ID=p"},
			want:    []string{"GOOGLE_PROJECT_ID=p", "GOOGLE_APPLICATION_CREDENTIALS=<FILE>"},
			files:   map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": gkey},
		},
		{name: "CA not PEM", environ: []string{"CA_CERT_DATA=secret-looking-9f"}, wantErr: "CA_CERT_DATA of the storage Secret is not a PEM certificate"},
		{name: "CA a key", environ: []string{"CA_CERT_DATA=" + testservers.NewTLS(t).ClientKey}, wantErr: "CA_CERT_DATA of the storage Secret holds a PEM EC PRIVATE KEY block"},
		{name: "GCS key a path", environ: []string{"GOOGLE_SERVICE_ACCOUNT_JSON_KEY=/var/secret/key.json"}, wantErr: "GOOGLE_SERVICE_ACCOUNT_JSON_KEY of the storage Secret is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := t.TempDir()
			got, cleanup, err := CredentialFiles(tt.environ, scratch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !IsKind(err, KindRepositoryConfig) {
					t.Fatalf("err %v, want a repository config error saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret-looking-9f") || strings.Contains(err.Error(), "/var/secret") {
					t.Errorf("the error echoes the value: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(scratch); tt.wantErr != "" && len(left) > 0 {
				t.Errorf("a failed call left %v", left)
			}
			if tt.wantErr != "" {
				return
			}
			var shown []string
			for _, kv := range got {
				k, v, _ := strings.Cut(kv, "=")
				want, isFile := tt.files[k]
				if !isFile {
					shown = append(shown, kv)
					continue
				}
				shown = append(shown, k+"=<FILE>")
				if filepath.Dir(filepath.Dir(v)) != scratch {
					t.Errorf("%s=%s is not in a directory of its own under %s", k, v, scratch)
				}
				st, err := os.Stat(v)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", v, st.Mode().Perm())
				}
				if b, _ := os.ReadFile(v); string(b) != want {
					t.Errorf("%s holds %q, want %q", v, b, want)
				}
			}
			if diff := cmp.Diff(tt.want, shown); diff != "" {
				t.Errorf("environ (-want +got):\n%s", diff)
			}
			cleanup()
			if left, _ := os.ReadDir(scratch); len(left) > 0 {
				t.Errorf("cleanup left %v", left)
			}
		})
	}
}
