package verdict

import (
	"context"
	"testing"

	"github.com/spf13/pflag"
)

func TestVerdict(t *testing.T) {
	tcs := []struct {
		name    string
		args    []string
		wantErr string
		wantRun string
	}{
		{"names the session and its kind", []string{"--session=demo/nightly-1", "--kind=BackupSession"}, "",
			"BackupSession demo/nightly-1 failed: a step of its run failed, and its message names the cause"},
		{"without a kind", []string{"--session=nightly-1"}, "", "nightly-1 failed: a step of its run failed, and its message names the cause"},
		{"the session is required", nil, "--session: required", ""},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			v := New()
			fs := pflag.NewFlagSet(Name, pflag.ContinueOnError)
			v.Flags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := v.Validate(); errString(err) != tc.wantErr {
				t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr != "" {
				return
			}
			out, err := v.Run(context.Background(), nil)
			if err == nil || err.Error() != tc.wantRun || len(out) != 0 {
				t.Errorf("Run() = %v, %v; want no outputs and %q", out, err, tc.wantRun)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
