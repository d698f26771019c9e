package sessionstatus

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestStashSnapshots: a host's snapshot is also written in Stash's form
// (targets[].stats[].snapshots[]), sizes formatted as Stash does.
func TestStashSnapshots(t *testing.T) {
	for _, tt := range []struct {
		name string
		host Host
		want []v1alpha1.SnapshotStats
	}{
		{"no snapshot", Host{Hostname: "etcd", Phase: v1alpha1.HostFailed, Error: "boom"}, nil},
		{"every number", Host{Hostname: "etcd", SnapshotID: "4bba1e3c", Size: ptr.To(int64(3 << 20)), Uploaded: ptr.To(int64(1536)), Files: ptr.To(int64(12)), Duration: "2.5s"},
			[]v1alpha1.SnapshotStats{{Name: "4bba1e3c", TotalSize: "3.0 MiB", Uploaded: "1.5 KiB", ProcessingTime: "2.5s", FileStats: &v1alpha1.FileStats{TotalFiles: ptr.To(int64(12))}}}},
		{"only the id", Host{Hostname: "etcd", SnapshotID: "4bba1e3c"}, []v1alpha1.SnapshotStats{{Name: "4bba1e3c"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &Outcome{Targets: []Target{{Hosts: []Host{tt.host}}}}
			s := &v1alpha1.BackupSession{}
			SetBackup(s, o)
			if len(s.Status.Targets) != 1 || len(s.Status.Targets[0].Stats) != 1 {
				t.Fatalf("targets = %+v, want one target with one host", s.Status.Targets)
			}
			if diff := cmp.Diff(tt.want, s.Status.Targets[0].Stats[0].Snapshots); diff != "" {
				t.Errorf("snapshots (-want +got):\n%s", diff)
			}
		})
	}
}
