package translators_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

func claimTemplate(name string) *v1alpha1.PersistentVolumeClaimTemplate {
	t := &v1alpha1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
	}}
	if name != "" {
		t.Metadata = &v1alpha1.TemplateMetadata{Name: name}
	}
	return t
}

// TestInterimVolumeRefused: an interimVolumeTemplate that cannot be
// honoured is refused naming the field: on a workload target, under a name
// that cannot name a volume or that another volume has, a name two batch
// members give different templates, and on the local engine what a
// directory cannot be.
func TestInterimVolumeRefused(t *testing.T) {
	block := corev1.PersistentVolumeBlock
	for _, tt := range []struct {
		name    string
		file    string
		local   bool
		edit    func(in *input)
		wantErr string
	}{
		{
			name:    "workload target",
			file:    "workload-backup-statefulset.yaml",
			edit:    func(in *input) { configOf(in).Spec.InterimVolumeTemplate = claimTemplate("") },
			wantErr: "spec.interimVolumeTemplate: a StatefulSet target is backed up and restored by steps that mount the workload's own volumes",
		},
		{
			name:    "name that is no DNS label",
			file:    "volume-backup-rest.yaml",
			edit:    func(in *input) { configOf(in).Spec.InterimVolumeTemplate = claimTemplate("Dump.Storage") },
			wantErr: `spec.interimVolumeTemplate.metadata.name: "Dump.Storage" names the steps' volume and must be a DNS label`,
		},
		{
			name:    "name of the scratch volume",
			file:    "volume-backup-rest.yaml",
			edit:    func(in *input) { configOf(in).Spec.InterimVolumeTemplate = claimTemplate("interim") },
			wantErr: `spec.interimVolumeTemplate.metadata.name: "interim" is the name of another volume of the run's steps`,
		},
		{
			name: "one name, two templates",
			file: "batch-parallel.yaml",
			edit: func(in *input) {
				b := batchOf(in)
				b.Spec.Members[0].InterimVolumeTemplate = claimTemplate("dump")
				b.Spec.Members[2].InterimVolumeTemplate = claimTemplate("dump")
				b.Spec.Members[2].InterimVolumeTemplate.Spec.StorageClassName = ptr.To("fast")
			},
			wantErr: `spec.members[2].interimVolumeTemplate: claim "dump" is also spec.members[0].interimVolumeTemplate, with another template`,
		},
		{
			name:  "block volume on the local engine",
			file:  "volume-backup-rest.yaml",
			local: true,
			edit: func(in *input) {
				configOf(in).Spec.InterimVolumeTemplate = claimTemplate("")
				configOf(in).Spec.InterimVolumeTemplate.Spec.VolumeMode = &block
			},
			wantErr: "spec.interimVolumeTemplate.spec.volumeMode: Block: the local engine makes the claim a directory of the run",
		},
		{
			name:  "data source on the local engine",
			file:  "etcd-restore-rules.yaml",
			local: true,
			edit: func(in *input) {
				rs := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
				rs.Spec.InterimVolumeTemplate = claimTemplate("")
				rs.Spec.InterimVolumeTemplate.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "old-dump"}
			},
			wantErr: "spec.interimVolumeTemplate.spec.dataSource: the local engine makes the claim a directory of the run",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := mustLoad(t, tt.file)
			tt.edit(in)
			_, err := in.translate(translators.Options{Image: testImage, Local: tt.local})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestInterimVolumeClaims: which claim each target's Function steps mount
// at translators.InterimVolumeDir with INTERIM_DATA_DIR in their
// environment; targets without a template mount none and keep
// INTERIM_DATA_DIR on the scratch volume. Batch members without a name get
// one each; members naming one claim with one template share it.
func TestInterimVolumeClaims(t *testing.T) {
	for _, tt := range []struct {
		name  string
		local bool
		edit  func(b *v1alpha1.BackupBatch)
		// claims are the graph's claims; mounts, each step's claim ("" none).
		claims []string
		mounts map[string]string
	}{
		{
			name:   "no template",
			edit:   func(*v1alpha1.BackupBatch) {},
			mounts: map[string]string{"repository-init": "", "etcd-etcd-backup": "", "app-data-volume-backup": "", "search-elasticsearch-backup": ""},
		},
		{
			name: "default names, one per member",
			edit: func(b *v1alpha1.BackupBatch) {
				b.Spec.Members[0].InterimVolumeTemplate, b.Spec.Members[2].InterimVolumeTemplate = claimTemplate(""), claimTemplate("")
			},
			claims: []string{"etcd-interim-volume", "search-interim-volume"},
			mounts: map[string]string{"repository-init": "", "etcd-etcd-backup": "etcd-interim-volume", "app-data-volume-backup": "", "search-elasticsearch-backup": "search-interim-volume"},
		},
		{
			name: "one name and one template: one claim, as Stash's targets of one session share it",
			edit: func(b *v1alpha1.BackupBatch) {
				b.Spec.Members[0].InterimVolumeTemplate, b.Spec.Members[2].InterimVolumeTemplate = claimTemplate("dump"), claimTemplate("dump")
			},
			claims: []string{"dump"},
			mounts: map[string]string{"repository-init": "", "etcd-etcd-backup": "dump", "app-data-volume-backup": "", "search-elasticsearch-backup": "dump"},
		},
		{
			name:   "one member only, on the local engine",
			local:  true,
			edit:   func(b *v1alpha1.BackupBatch) { b.Spec.Members[2].InterimVolumeTemplate = claimTemplate("") },
			claims: []string{"search-interim-volume"},
			mounts: map[string]string{"repository-init": "", "etcd-etcd-backup": "", "app-data-volume-backup": "", "search-elasticsearch-backup": "search-interim-volume"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := mustLoad(t, "batch-parallel.yaml")
			b := batchOf(in)
			b.Spec.Hooks, b.Spec.RetentionPolicy = nil, nil
			for i := range b.Spec.Members {
				b.Spec.Members[i].Hooks = nil
			}
			tt.edit(b)
			plan, err := in.translate(translators.Options{Image: testImage, Local: tt.local})
			if err != nil {
				t.Fatal(err)
			}
			var claims []string
			for _, c := range plan.Graph.VolumeClaims {
				claims = append(claims, c.Name)
				if c.Labels[v1alpha1.LabelSession] != plan.Graph.Name {
					t.Errorf("claim %s labels %v: no session label", c.Name, c.Labels)
				}
			}
			if diff := cmp.Diff(tt.claims, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			mounts := map[string]string{}
			for _, s := range plan.Graph.Steps {
				if s.Labels["stashflow.dev/step-kind"] != "step" {
					continue
				}
				claim, dir := "", ""
				for _, m := range s.Process.VolumeMounts {
					if m.MountPath == translators.InterimVolumeDir {
						claim = m.Name
					}
				}
				for _, e := range s.Process.Env {
					if e.Name == "INTERIM_DATA_DIR" {
						dir = e.Value
					}
				}
				if (claim == "") != (dir == "") || (dir != "" && dir != translators.InterimVolumeDir) {
					t.Errorf("step %s: claim %q mounted, INTERIM_DATA_DIR=%q", s.Name, claim, dir)
				}
				mounts[s.Name] = claim
			}
			if diff := cmp.Diff(tt.mounts, mounts); diff != "" {
				t.Errorf("claims mounted per step (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInterimVolumeRestoreSession: a RestoreSession's template becomes the
// claim interim-volume, and the catalog's etcd-restore dumps the snapshot
// file into it (--interim-dir=${INTERIM_DATA_DIR}) rather than into the
// scratch volume.
func TestInterimVolumeRestoreSession(t *testing.T) {
	in := mustLoad(t, "etcd-restore-rules.yaml")
	rs := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
	rs.Spec.InterimVolumeTemplate = claimTemplate("")
	rs.Spec.InterimVolumeTemplate.Spec.StorageClassName = ptr.To("fast")
	plan, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(plan.Graph.VolumeClaims); n != 1 || plan.Graph.VolumeClaims[0].Name != "interim-volume" ||
		ptr.Deref(plan.Graph.VolumeClaims[0].Spec.StorageClassName, "") != "fast" {
		t.Fatalf("claims = %+v, want interim-volume with the template's spec", plan.Graph.VolumeClaims)
	}
	found := false
	for _, s := range plan.Graph.Steps {
		if s.Template == "etcd-restore" {
			found = slices.Contains(s.Process.Args, "--interim-dir="+translators.InterimVolumeDir)
		}
	}
	if !found {
		t.Errorf("etcd-restore does not dump into %s:\n%s", translators.InterimVolumeDir, plan.Graph.Format())
	}
}
