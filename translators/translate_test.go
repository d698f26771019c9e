package translators_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/internal/argolint"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/pipeline/argo"
	"github.com/stashflow/stashflow/translators"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const testImage = "ghcr.io/stashflow/stashflow:v0.1.0"

// input is one test case's objects: the catalog plus the case's own YAML.
type input struct {
	set  *manifest.Set
	objs *translators.Objects
}

var (
	loadedCases   = map[string][]manifest.Object{}
	loadedCatalog *catalog.Catalog
)

// mustLoad returns fresh copies of a case's objects (decoded once per test
// binary: the fuzz target calls it in its loop).
func mustLoad(t testing.TB, file string, extra ...string) *input {
	t.Helper()
	cached, ok := loadedCases[file]
	if !ok {
		var err error
		cached, err = manifest.LoadPaths(filepath.Join("testdata", "cases", file))
		if err != nil {
			t.Fatalf("load %s: %v", file, err)
		}
		loadedCases[file] = cached
	}
	objs := make([]manifest.Object, len(cached))
	for i, o := range cached {
		objs[i] = manifest.Object{Object: o.DeepCopyObject().(client.Object), Source: o.Source}
	}
	for _, doc := range extra {
		more, err := manifest.Decode("extra", []byte(doc))
		if err != nil {
			t.Fatalf("decode extra: %v", err)
		}
		objs = append(objs, more...)
	}
	return newInput(t, objs)
}

func newInput(t testing.TB, objs []manifest.Object) *input {
	t.Helper()
	if loadedCatalog == nil {
		cat, err := catalog.Load()
		if err != nil {
			t.Fatalf("catalog: %v", err)
		}
		loadedCatalog = cat
	}
	in := &input{set: &manifest.Set{Objects: objs}, objs: &translators.Objects{
		AppBindings: map[string]*v1alpha1.AppBinding{},
		Tasks:       map[string]*v1alpha1.Task{},
		Functions:   map[string]*v1alpha1.Function{},
	}}
	for name, task := range loadedCatalog.Tasks {
		in.objs.Tasks[name] = task.DeepCopy()
	}
	for name, fn := range loadedCatalog.Functions {
		in.objs.Functions[name] = fn.DeepCopy()
	}
	var (
		pods      []corev1.Pod
		workloads []client.Object
	)
	for _, o := range objs {
		switch x := o.Object.(type) {
		case *corev1.Pod:
			pods = append(pods, *x)
		case *appsv1.Deployment, *appsv1.StatefulSet, *appsv1.DaemonSet, *appsv1.ReplicaSet:
			workloads = append(workloads, x)
		case *v1alpha1.Repository:
			in.objs.Repository = x
		case *v1alpha1.AppBinding:
			in.objs.AppBindings[x.Name] = x
		case *v1alpha1.Task:
			in.objs.Tasks[x.Name] = x
		case *v1alpha1.Function:
			in.objs.Functions[x.Name] = x
		}
	}
	for _, o := range workloads {
		w, err := translators.NewWorkload(o, pods)
		if err != nil {
			t.Fatalf("workload %s: %v", o.GetName(), err)
		}
		if in.objs.Workloads == nil {
			in.objs.Workloads = map[string]*translators.Workload{}
		}
		kind := o.GetObjectKind().GroupVersionKind().Kind
		in.objs.Workloads[translators.WorkloadKey(kind, o.GetName())] = w
	}
	return in
}

// translate runs the translator that fits the case's session object.
func (in *input) translate(opts translators.Options) (*translators.Plan, error) {
	if s := manifest.Of[*v1alpha1.BackupSession](in.set); len(s) == 1 {
		var inv translators.BackupInvoker
		if c := manifest.Of[*v1alpha1.BackupConfiguration](in.set); len(c) == 1 {
			inv.Config = c[0]
		}
		if b := manifest.Of[*v1alpha1.BackupBatch](in.set); len(b) == 1 {
			inv.Batch = b[0]
		}
		return translators.Backup(s[0], inv, in.objs, opts)
	}
	if s := manifest.Of[*v1alpha1.RestoreSession](in.set); len(s) == 1 {
		return translators.Restore(s[0], in.objs, opts)
	}
	if b := manifest.Of[*v1alpha1.RestoreBatch](in.set); len(b) == 1 {
		return translators.RestoreBatch(b[0], in.objs, opts)
	}
	return nil, errors.New("test case has no session")
}

func TestTranslateGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			in := mustLoad(t, filepath.Base(path))
			plan, err := in.translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			var layout strings.Builder
			fmt.Fprintf(&layout, "\n# layout\n")
			l, _ := yaml.Marshal(plan.Layout)
			layout.Write(l)
			for _, w := range plan.Warnings {
				fmt.Fprintf(&layout, "# warning: %s\n", w)
			}
			golden(t, name+".graph.txt", plan.Graph.Format()+layout.String())

			wf, err := argo.Render(plan.Graph, argo.Options{})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatalf("Argo rejects the rendered workflow: %v", err)
			}
			out, err := yaml.Marshal(wf)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".workflow.yaml", string(out))
			assertNoSecretValues(t, in, string(out)+plan.Graph.Format())
		})
	}
}

// assertNoSecretValues fails if any value of any Secret in the case shows
// up in what the translator produced.
func assertNoSecretValues(t *testing.T, in *input, rendered string) {
	t.Helper()
	for _, sec := range secretsOf(in.set) {
		for k, v := range sec {
			if len(v) >= 4 && strings.Contains(rendered, v) {
				t.Errorf("the value of secret key %s appears in the rendered graph or workflow", k)
			}
		}
	}
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", file)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./translators -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); run go test ./translators -update if the change is intended:\n%s", path, diff)
	}
}

// TestAlias: a target's alias is its host in the repository: the backup
// stores its snapshots under it, the record names it, and a restore reads
// the alias's snapshots.
func TestAlias(t *testing.T) {
	in := mustLoad(t, "volume-backup-rest.yaml")
	configOf(in).Spec.Target.Alias = "www-blue"
	plan, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	if h := plan.Layout.Targets[0].Hostname; h != "www-blue" {
		t.Errorf("layout hostname = %q, want the alias", h)
	}
	if args := strings.Join(plan.Graph.Steps[0].Process.Args, " "); !strings.Contains(args, "--hostname=www-blue") {
		t.Errorf("backup args %q do not store under the alias", args)
	}
	rin := mustLoad(t, "etcd-restore-rules.yaml")
	rs := manifest.Of[*v1alpha1.RestoreSession](rin.set)[0]
	rs.Spec.Target.Alias, rs.Spec.Target.Rules = "etcd-old", nil
	rplan, err := rin.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range rplan.Graph.Steps {
		found = found || slices.ContainsFunc(s.Process.Args, func(a string) bool {
			return a == "--host=etcd-old" || a == "--source-host=etcd-old" || strings.HasSuffix(a, "=etcd-old")
		})
	}
	if !found || rplan.Layout.Targets[0].Hostname != "etcd-old" {
		t.Errorf("the restore does not read the alias's snapshots: layout %q", rplan.Layout.Targets[0].Hostname)
	}
}

// TestWorkloadAlias: a workload's hosts under an alias are named as Stash
// names them: <alias>-<ordinal> for a StatefulSet's replicas.
func TestWorkloadAlias(t *testing.T) {
	in := mustLoad(t, "workload-backup-statefulset.yaml")
	configOf(in).Spec.Target.Alias = "my-sts"
	plan, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"my-sts-0", "my-sts-1"}, plan.Layout.Targets[0].Hosts()); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if args := strings.Join(plan.Graph.Steps[0].Process.Args, " "); !strings.Contains(args, "--hostname=my-sts-0") {
		t.Errorf("first backup step's args %q, want host my-sts-0", args)
	}
}

// TestTopLevelRules: Stash's older spec.rules translate as target.rules do.
func TestTopLevelRules(t *testing.T) {
	want, err := mustLoad(t, "etcd-restore-rules.yaml").translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	in := mustLoad(t, "etcd-restore-rules.yaml")
	rs := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
	rs.Spec.Rules, rs.Spec.Target.Rules = rs.Spec.Target.Rules, nil
	got, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Graph.Format(), got.Graph.Format()); diff != "" {
		t.Errorf("graph with spec.rules (-target.rules +spec.rules):\n%s", diff)
	}
}

// TestEmptyRuntimeSettings: `runtimeSettings: {}` (Stash writes it on the
// BackupConfigurations it makes from a BackupBlueprint) sets nothing: the
// graph and the rendered Workflow are those without it, and the local engine
// runs it.
func TestEmptyRuntimeSettings(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local=%v", local), func(t *testing.T) {
			render := func(rs *v1alpha1.RuntimeSettings) string {
				in := mustLoad(t, "volume-backup-rest.yaml")
				configOf(in).Spec.RuntimeSettings = rs
				plan, err := in.translate(translators.Options{Image: testImage, Local: local})
				if err != nil {
					t.Fatalf("translate with runtimeSettings %+v: %v", rs, err)
				}
				wf, err := argo.Render(plan.Graph, argo.Options{})
				if err != nil {
					t.Fatal(err)
				}
				out, err := yaml.Marshal(wf)
				if err != nil {
					t.Fatal(err)
				}
				return plan.Graph.Format() + string(out)
			}
			if diff := cmp.Diff(render(nil), render(&v1alpha1.RuntimeSettings{})); diff != "" {
				t.Errorf("runtimeSettings: {} changed the plan (-none +empty):\n%s", diff)
			}
			// The comparison sees runtimeSettings: a nice value shows.
			if render(nil) == render(&v1alpha1.RuntimeSettings{Container: &v1alpha1.ContainerRuntimeSettings{Nice: &v1alpha1.NiceSettings{Adjustment: ptr.To[int32](5)}}}) {
				t.Error("a container nice setting did not change the plan")
			}
		})
	}
}

// TestEmptyTaskRef: `task: {}` (Stash writes it on a workload's
// BackupConfiguration, which names no Task) runs the Task chosen from the
// target, as an unset task does; with neither a name nor a target to choose
// from, translation fails naming the task.
func TestEmptyTaskRef(t *testing.T) {
	plan := func(in *input) string {
		p, err := in.translate(translators.Options{Image: testImage})
		if err != nil {
			t.Fatal(err)
		}
		return p.Graph.Format()
	}
	for _, file := range []string{"volume-backup-rest.yaml", "workload-backup-statefulset.yaml"} {
		t.Run(file, func(t *testing.T) {
			want := plan(mustLoad(t, file))
			in := mustLoad(t, file)
			configOf(in).Spec.Task = &v1alpha1.TaskRef{}
			if diff := cmp.Diff(want, plan(in)); diff != "" {
				t.Errorf("task: {} changed the plan (-unset +empty):\n%s", diff)
			}
			if !strings.Contains(want, "volume-backup") {
				t.Errorf("the plan runs no volume-backup step:\n%s", want)
			}
		})
	}
	in := mustLoad(t, "volume-backup-rest.yaml")
	configOf(in).Spec.Task = &v1alpha1.TaskRef{}
	configOf(in).Spec.Target = nil
	_, err := in.translate(translators.Options{Image: testImage})
	if err == nil || !strings.Contains(err.Error(), "no task given and none can be inferred from the target") {
		t.Errorf("task: {} without a target: err = %v, want the task named as missing", err)
	}
}

// TestEmptySourceHost: a rule's sourceHost "" (Stash's docs write
// `sourceHost: ""` for "each host's own") restores the target host's own
// snapshots, as an unset sourceHost does; a named one restores that host's.
func TestEmptySourceHost(t *testing.T) {
	for _, tt := range []struct {
		sourceHost, want string
	}{
		{sourceHost: "etcd-old", want: "--host=etcd-old"},
		{sourceHost: "", want: "--host=etcd"},
	} {
		t.Run(tt.sourceHost, func(t *testing.T) {
			in := mustLoad(t, "etcd-restore-rules.yaml")
			rs := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
			rs.Spec.Target.Rules[0].SourceHost = tt.sourceHost
			plan, err := in.translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatal(err)
			}
			var hosts []string
			for _, s := range plan.Graph.Steps {
				for _, a := range s.Process.Args {
					if strings.HasPrefix(a, "--host=") {
						hosts = append(hosts, a)
					}
				}
			}
			if diff := cmp.Diff([]string{tt.want}, hosts); diff != "" {
				t.Errorf("--host of the restore step (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBackendOptions: a backend's maxConnections becomes restic's
// <backend>.connections option and S3's insecureTLS restic's
// --insecure-tls, in every step's environment.
func TestBackendOptions(t *testing.T) {
	for _, tt := range []struct {
		backend v1alpha1.Backend
		want    string
	}{
		{v1alpha1.Backend{StorageSecretName: "s", GCS: &v1alpha1.GCSSpec{Bucket: "b", MaxConnections: ptr.To[int64](8)}}, "STASHFLOW_RESTIC_OPTIONS=gs.connections=8"},
		{v1alpha1.Backend{StorageSecretName: "s", Azure: &v1alpha1.AzureSpec{Container: "c", MaxConnections: ptr.To[int64](4)}}, "STASHFLOW_RESTIC_OPTIONS=azure.connections=4"},
		{v1alpha1.Backend{StorageSecretName: "s", B2: &v1alpha1.B2Spec{Bucket: "b", MaxConnections: ptr.To[int64](2)}}, "STASHFLOW_RESTIC_OPTIONS=b2.connections=2"},
		{v1alpha1.Backend{StorageSecretName: "s", S3: &v1alpha1.S3Spec{Endpoint: "https://minio:9000", Bucket: "b", InsecureTLS: true}}, "STASHFLOW_RESTIC_INSECURE_TLS=true"},
		{v1alpha1.Backend{StorageSecretName: "s", S3: &v1alpha1.S3Spec{Endpoint: "https://minio:9000", Bucket: "b", Region: "eu-central-1"}}, "STASHFLOW_RESTIC_OPTIONS=s3.region=eu-central-1"},
	} {
		in := mustLoad(t, "volume-backup-rest.yaml")
		in.objs.Repository.Spec.Backend = tt.backend
		plan, err := in.translate(translators.Options{Image: testImage})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range plan.Graph.Steps {
			if s.Name == plan.Layout.Verdict {
				continue
			}
			var env []string
			for _, e := range s.Process.Env {
				env = append(env, e.Name+"="+e.Value)
			}
			if !slices.Contains(env, tt.want) {
				t.Errorf("step %s env %v, want %s", s.Name, env, tt.want)
			}
		}
	}
}

// TestBackendLocation: each backend's bucket (or container) and prefix make
// the restic repository every step opens (RESTIC_REPOSITORY, in restic's
// own syntax for the backend), and a local backend's subPath is the subPath
// of the steps' mount of its volume (the repository is the mountPath).
func TestBackendLocation(t *testing.T) {
	for _, tt := range []struct {
		name    string
		backend v1alpha1.Backend
		want    []string // RESTIC_REPOSITORY, then the repository volume's mounts
	}{
		{"gcs", v1alpha1.Backend{GCS: &v1alpha1.GCSSpec{Bucket: "gcs-bucket", Prefix: "demo/www"}},
			[]string{"gs:gcs-bucket:/demo/www"}},
		{"gcs prefix trimmed", v1alpha1.Backend{GCS: &v1alpha1.GCSSpec{Bucket: "gcs-bucket", Prefix: "/demo/www/"}},
			[]string{"gs:gcs-bucket:/demo/www"}},
		{"azure", v1alpha1.Backend{Azure: &v1alpha1.AzureSpec{Container: "az-container", Prefix: "demo/www"}},
			[]string{"azure:az-container:/demo/www"}},
		{"b2", v1alpha1.Backend{B2: &v1alpha1.B2Spec{Bucket: "b2-bucket", Prefix: "/demo/www"}},
			[]string{"b2:b2-bucket:demo/www"}},
		{"swift", v1alpha1.Backend{Swift: &v1alpha1.SwiftSpec{Container: "sw-container", Prefix: "demo/www/"}},
			[]string{"swift:sw-container:/demo/www"}},
		{"local", v1alpha1.Backend{Local: &v1alpha1.LocalSpec{MountPath: "/safe/data", SubPath: "demo/www",
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "backups"}}},
			[]string{"/safe/data", "mount /safe/data subPath demo/www"}},
		{"local without subPath", v1alpha1.Backend{Local: &v1alpha1.LocalSpec{MountPath: "/safe/data",
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "backups"}}},
			[]string{"/safe/data", "mount /safe/data subPath "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := mustLoad(t, "volume-backup-rest.yaml")
			tt.backend.StorageSecretName = "rest-secret"
			in.objs.Repository.Spec.Backend = tt.backend
			plan, err := in.translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatal(err)
			}
			steps := 0
			for _, s := range plan.Graph.Steps {
				if s.Name == plan.Layout.Verdict {
					continue
				}
				steps++
				var got []string
				for _, e := range s.Process.Env {
					if e.Name == "RESTIC_REPOSITORY" {
						got = append(got, e.Value)
					}
				}
				for _, m := range s.Process.VolumeMounts {
					if m.Name == "repository" {
						got = append(got, "mount "+m.MountPath+" subPath "+m.SubPath)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("step %s: the repository (-want +got):\n%s", s.Name, diff)
				}
			}
			if steps == 0 {
				t.Fatal("no Function steps")
			}
		})
	}
}

// TestBackendSecretKeys is the exact environment a step gets from each
// backend's storage Secret (Stash's keys), by reference only: the
// rendering proof for the backends no server here can run (GCS, Azure,
// B2, Swift). CA_CERT_DATA and GOOGLE_SERVICE_ACCOUNT_JSON_KEY arrive as
// values that the step runtime writes to files (functions/restic
// TestCredentialFiles); no Secret key becomes GOOGLE_APPLICATION_CREDENTIALS.
func TestBackendSecretKeys(t *testing.T) {
	for _, tt := range []struct {
		backend v1alpha1.Backend
		want    []string // NAME=secret/KEY, in order, after RESTIC_PASSWORD
	}{
		{v1alpha1.Backend{S3: &v1alpha1.S3Spec{Endpoint: "https://minio:9000", Bucket: "b"}},
			[]string{"AWS_ACCESS_KEY_ID=s/AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY=s/AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN=s/AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION=s/AWS_DEFAULT_REGION", "CA_CERT_DATA=s/CA_CERT_DATA"}},
		{v1alpha1.Backend{GCS: &v1alpha1.GCSSpec{Bucket: "b"}},
			[]string{"GOOGLE_PROJECT_ID=s/GOOGLE_PROJECT_ID", "GOOGLE_SERVICE_ACCOUNT_JSON_KEY=s/GOOGLE_SERVICE_ACCOUNT_JSON_KEY"}},
		{v1alpha1.Backend{Azure: &v1alpha1.AzureSpec{Container: "c"}},
			[]string{"AZURE_ACCOUNT_NAME=s/AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY=s/AZURE_ACCOUNT_KEY", "AZURE_ACCOUNT_SAS=s/AZURE_ACCOUNT_SAS"}},
		{v1alpha1.Backend{B2: &v1alpha1.B2Spec{Bucket: "b"}},
			[]string{"B2_ACCOUNT_ID=s/B2_ACCOUNT_ID", "B2_ACCOUNT_KEY=s/B2_ACCOUNT_KEY"}},
		{v1alpha1.Backend{Swift: &v1alpha1.SwiftSpec{Container: "c"}},
			[]string{"OS_AUTH_URL=s/OS_AUTH_URL", "OS_USERNAME=s/OS_USERNAME", "OS_PASSWORD=s/OS_PASSWORD", "OS_TENANT_NAME=s/OS_TENANT_NAME", "OS_REGION_NAME=s/OS_REGION_NAME", "OS_PROJECT_NAME=s/OS_PROJECT_NAME", "OS_USER_DOMAIN_NAME=s/OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME=s/OS_PROJECT_DOMAIN_NAME", "ST_AUTH=s/ST_AUTH", "ST_USER=s/ST_USER", "ST_KEY=s/ST_KEY"}},
		{v1alpha1.Backend{Rest: &v1alpha1.RestServerSpec{URL: "https://rest:8000/r"}},
			[]string{"RESTIC_REST_USERNAME=s/REST_SERVER_USERNAME", "RESTIC_REST_PASSWORD=s/REST_SERVER_PASSWORD", "CA_CERT_DATA=s/CA_CERT_DATA"}},
	} {
		t.Run(tt.backend.Provider(), func(t *testing.T) {
			tt.backend.StorageSecretName = "s"
			var got []string
			for _, e := range translators.RepositoryEnv(&v1alpha1.Repository{Spec: v1alpha1.RepositorySpec{Backend: tt.backend}}) {
				if r := e.SecretKeyRef; r != nil && e.Name != "RESTIC_PASSWORD" {
					if !r.Optional {
						t.Errorf("%s is a required reference; a Secret holds only what its backend needs", e.Name)
					}
					got = append(got, e.Name+"="+r.Name+"/"+r.Key)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("secret env (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMissingSecretKeys: the storage Secret keys each backend cannot work
// without, given the keys a Secret holds.
func TestMissingSecretKeys(t *testing.T) {
	s3 := v1alpha1.Backend{S3: &v1alpha1.S3Spec{Endpoint: "e", Bucket: "b"}}
	rest := v1alpha1.Backend{Rest: &v1alpha1.RestServerSpec{URL: "https://r"}}
	for _, tt := range []struct {
		name    string
		backend v1alpha1.Backend
		has     []string
		want    []string
	}{
		{"local needs the password", v1alpha1.Backend{Local: &v1alpha1.LocalSpec{MountPath: "/r"}}, nil, []string{"RESTIC_PASSWORD"}},
		{"s3 with an instance role", s3, []string{"RESTIC_PASSWORD"}, nil},
		{"s3 key id without secret", s3, []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID"}, []string{"AWS_SECRET_ACCESS_KEY"}},
		{"s3 secret without key id", s3, []string{"RESTIC_PASSWORD", "AWS_SECRET_ACCESS_KEY"}, []string{"AWS_ACCESS_KEY_ID"}},
		{"rest without auth", rest, []string{"RESTIC_PASSWORD"}, nil},
		{"rest user without password", rest, []string{"RESTIC_PASSWORD", "REST_SERVER_USERNAME"}, []string{"REST_SERVER_PASSWORD"}},
		{"azure", v1alpha1.Backend{Azure: &v1alpha1.AzureSpec{Container: "c"}}, []string{"RESTIC_PASSWORD", "AZURE_ACCOUNT_KEY"}, []string{"AZURE_ACCOUNT_NAME"}},
		{"b2", v1alpha1.Backend{B2: &v1alpha1.B2Spec{Bucket: "b"}}, nil, []string{"RESTIC_PASSWORD", "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"}},
		{"gcs", v1alpha1.Backend{GCS: &v1alpha1.GCSSpec{Bucket: "b"}}, []string{"RESTIC_PASSWORD"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range translators.MissingSecretKeys(&tt.backend, func(k string) bool { return slices.Contains(tt.has, k) }) {
				got = append(got, m.Key)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}
