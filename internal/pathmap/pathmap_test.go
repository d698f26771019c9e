package pathmap

import "testing"

func TestApply(t *testing.T) {
	rw := New(
		Mapping{From: "/data", To: "/host/vol-data"},
		Mapping{From: "/data/nested", To: "/host/vol-nested"},
		Mapping{From: "/tmp/stashflow/outputs", To: "/host/out"},
	)
	tcs := map[string]string{
		"/data":                     "/host/vol-data",
		"/data/file":                "/host/vol-data/file",
		"/data/nested/file":         "/host/vol-nested/file",
		"--dir=/data/x":             "--dir=/host/vol-data/x",
		"/database":                 "/database",
		"/x/data":                   "/x/data",
		"/data-2":                   "/data-2",
		"/data.bak":                 "/data.bak",
		"a:/data:b":                 "a:/host/vol-data:b",
		"/tmp/stashflow/outputs/id": "/host/out/id",
		"${STASHFLOW_OUTPUT_DIR:-/tmp/stashflow/outputs}": "${STASHFLOW_OUTPUT_DIR:-/host/out}",
		"no paths here": "no paths here",
	}
	for in, want := range tcs {
		if got := rw.Apply(in); got != want {
			t.Errorf("apply(%q) = %q, want %q", in, got, want)
		}
	}
}
