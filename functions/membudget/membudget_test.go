package membudget

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/outputs"
)

// writeFiles creates root/<path> = content for each entry.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		name := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCgroupLimit(t *testing.T) {
	const v1Unlimited = "9223372036854771712\n"
	cases := []struct {
		name       string
		procCgroup string
		files      map[string]string
		want       int64
		wantFrom   string // relative to the root; "" when none
		wantErr    string
	}{
		{
			name:       "v2, a container with its own namespace: the limit at the mount point",
			procCgroup: "0::/\n",
			files:      map[string]string{"memory.max": "268435456\n"},
			want:       256 << 20, wantFrom: "memory.max",
		},
		{
			name: "v2, max is none", procCgroup: "0::/\n",
			files: map[string]string{"memory.max": "max\n"},
		},
		{
			name: "v2, the smaller of the cgroup and a parent (a pod's limit)", procCgroup: "0::/kubepods/pod1/c1\n",
			files: map[string]string{"kubepods/pod1/memory.max": "104857600", "kubepods/pod1/c1/memory.max": "max", "kubepods/memory.max": "1073741824"},
			want:  100 << 20, wantFrom: "kubepods/pod1/memory.max",
		},
		{
			name: "v2, the cgroup's directory not mounted here: the mount point's file", procCgroup: "0::/system.slice/docker-1.scope\n",
			files: map[string]string{"memory.max": "536870912"},
			want:  512 << 20, wantFrom: "memory.max",
		},
		{
			name: "v1 (hybrid host): the memory controller's hierarchy, not v2's", procCgroup: "9:name=systemd:/\n4:memory:/process_api/x\n3:cpuset:/\n0::/\n",
			files: map[string]string{"memory/process_api/x/memory.limit_in_bytes": "67108864", "memory/memory.limit_in_bytes": v1Unlimited, "memory.max": "1024"},
			want:  64 << 20, wantFrom: "memory/process_api/x/memory.limit_in_bytes",
		},
		{
			name: "v1, unlimited is none", procCgroup: "4:memory:/a\n",
			files: map[string]string{"memory/a/memory.limit_in_bytes": v1Unlimited},
		},
		{
			name: "v1, memory co-mounted with another controller", procCgroup: "5:cpuacct,memory:/a\n",
			files: map[string]string{"memory/a/memory.limit_in_bytes": "1048576"},
			want:  1 << 20, wantFrom: "memory/a/memory.limit_in_bytes",
		},
		{name: "no cgroup files: none", procCgroup: "0::/a/b\n"},
		{name: "no /proc/self/cgroup: none", procCgroup: ""},
		{
			name: "garbage in a limit file", procCgroup: "0::/\n",
			files:   map[string]string{"memory.max": "lots\n"},
			wantErr: `memory.max holds "lots", not a number of bytes or "max"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			got, err := CgroupLimit(root, []byte(tc.procCgroup))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Limit{Bytes: tc.want}
			if tc.wantFrom != "" {
				want.From = filepath.Join(root, filepath.FromSlash(tc.wantFrom))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CgroupLimit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	cg := func(n int64) Limit { return Limit{Bytes: n, From: "/sys/fs/cgroup/memory.max"} }
	env := func(v string) []string { return []string{"PATH=/bin", outputs.MemoryLimitEnv + "=" + v} }
	cases := []struct {
		name    string
		flag    string
		flagSet bool
		environ []string
		cgroup  Limit
		want    Limit
		wantErr string
	}{
		{name: "nothing: no limit"},
		{name: "the flag", flag: "256Mi", flagSet: true, want: Limit{Bytes: 256 << 20, From: "--memory-limit"}},
		{name: "the flag wins over the variable", flag: "1GiB", flagSet: true, environ: env("256Mi"), want: Limit{Bytes: 1 << 30, From: "--memory-limit"}},
		{name: "the flag set to none ignores the variable", flag: "none", flagSet: true, environ: env("256Mi")},
		{name: "the variable (bytes, as the Downward API gives them)", environ: env("268435456"), want: Limit{Bytes: 256 << 20, From: "$STASHFLOW_MEMORY_LIMIT"}},
		{name: "the cgroup alone", cgroup: cg(512 << 20), want: cg(512 << 20)},
		{name: "a smaller cgroup bounds the setting", flag: "1Gi", flagSet: true, cgroup: cg(512 << 20), want: cg(512 << 20)},
		{name: "a larger cgroup does not", environ: env("256Mi"), cgroup: cg(512 << 20), want: Limit{Bytes: 256 << 20, From: "$STASHFLOW_MEMORY_LIMIT"}},
		{name: "a bad flag names it", flag: "lots", flagSet: true, wantErr: `--memory-limit: "lots" is not a size`},
		{name: "a bad variable names it", environ: env("-5"), wantErr: `$STASHFLOW_MEMORY_LIMIT: "-5" is not a size`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve("--memory-limit", tc.flag, tc.flagSet, tc.environ, tc.cgroup)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	cases := map[string]int64{
		"": 0, "0": 0, "none": 0, "max": 0,
		"268435456": 256 << 20, "256Mi": 256 << 20, "256MiB": 256 << 20, "1Gi": 1 << 30, "1GiB": 1 << 30,
		"512Ki": 512 << 10, "1G": 1e9, "100M": 100e6,
	}
	for in, want := range cases {
		got, err := ParseLimit(in)
		if err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "-1", "1.5.5Mi", "99999999999EiB"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q) = nil error, want one", bad)
		}
	}
}

func TestSplit(t *testing.T) {
	lim := func(n int64) Limit { return Limit{Bytes: n, From: "test"} }
	cases := []struct {
		name     string
		limit    Limit
		declared int64
		want     Budget
	}{
		{name: "no limit, nothing declared: nothing set", want: Budget{}},
		{name: "no limit, a declared need: only that", declared: 160 << 20, want: Budget{Self: 160 << 20}},
		{
			name: "256 MiB: our default share, the overhead, restic the rest", limit: lim(256 << 20),
			want: Budget{Limit: lim(256 << 20), Self: DefaultSelf, Restic: 256<<20 - Overhead - DefaultSelf},
		},
		{
			name: "1 GiB", limit: lim(1 << 30),
			want: Budget{Limit: lim(1 << 30), Self: DefaultSelf, Restic: 1<<30 - Overhead - DefaultSelf},
		},
		{
			name: "256 MiB and a declared 160 MiB", limit: lim(256 << 20), declared: 160 << 20,
			want: Budget{Limit: lim(256 << 20), Self: 160 << 20, Restic: 256<<20 - Overhead - 160<<20},
		},
		{
			name: "a declared need that leaves restic too little shrinks ours", limit: lim(200 << 20), declared: 160 << 20,
			want: Budget{Limit: lim(200 << 20), Self: 200<<20 - Overhead - MinRestic, Restic: MinRestic},
		},
		{
			name: "a limit below what the step needs: minimum shares, marked short", limit: lim(64 << 20),
			want: Budget{Limit: lim(64 << 20), Self: MinSelf, Restic: MinRestic, Short: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Split(tc.limit, tc.declared)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Split (-want +got):\n%s", diff)
			}
			if got.Bytes > 0 && !got.Short && got.Self+got.Restic+Overhead > got.Bytes {
				t.Errorf("shares %d + %d + overhead exceed the limit %d", got.Self, got.Restic, got.Bytes)
			}
		})
	}
}
