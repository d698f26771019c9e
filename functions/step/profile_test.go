package step

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartCPUProfile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		path     string
		wantFile bool
		wantErr  string
	}{
		{name: "unset: nothing profiled", path: ""},
		{name: "a file: a profile in it", path: filepath.Join(dir, "cpu.prof"), wantFile: true},
		{name: "a directory that does not exist", path: filepath.Join(dir, "missing", "cpu.prof"), wantErr: "$" + CPUProfileEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stop, err := StartCPUProfile(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stop()
			if !tt.wantFile {
				return
			}
			st, err := os.Stat(tt.path)
			if err != nil || st.Size() == 0 {
				t.Errorf("profile %s: %v, size %v", tt.path, err, st)
			}
		})
	}
}
