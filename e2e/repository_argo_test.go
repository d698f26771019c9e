package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/dustin/go-humanize"
	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/internal/testrepo"
	"github.com/stashflow/stashflow/translators"
)

// TestRepositoryRunsOnArgo runs the Repository controller's three kinds of
// runs as Argo Workflows on the real workflow-controller, their steps
// (`stashflow fn repository-init|-check|-wipe`) as pods of the pod runner
// with real restic on a host directory:
//
//   - refresh: after an etcd backup session, the Repository's status
//     (snapshotCount, totalSize, first/lastBackupTime, Ready and
//     Initialized) and its Snapshot objects are what plain `restic
//     snapshots --json` and `restic stats --mode raw-data` say, read by a
//     refresh Workflow that started after the session ended;
//   - check: the stashflow.dev/check-requested annotation runs a check
//     Workflow and sets IntegrityVerified True, NoErrorsFound;
//   - wipe: deleting the Repository with wipeOut runs a wipe Workflow; the
//     repository's directory is gone and the Repository object with it.
//
// Each Workflow names its Repository and its kind of run (its name, the
// labels stashflow.dev/repository and stashflow.dev/repository-run, its
// owner), a refresh Workflow is kept 10 minutes once it succeeded, the
// others the default day; no Workflow holds the repository's password.
func TestRepositoryRunsOnArgo(t *testing.T) {
	ctx := context.Background()
	startOperator(t)
	fp := newFullPath(t)
	t.Cleanup(func() {
		// envtest has no garbage collector: the Workflows outlive their owners.
		for _, l := range []string{v1alpha1.LabelRepository + "=" + fp.repo, v1alpha1.LabelSession + "=" + fp.repo + "-1"} {
			_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: l})
		}
		deleteSnapshotObjects(map[string]string{v1alpha1.LabelRepository: fp.repo})
	})
	repoUID := getRepository(t, fp.repo).UID

	src := startEtcd(t)
	for i := range 50 {
		if _, err := src.Client.Put(ctx, fmt.Sprintf("/repo/key-%02d", i), strings.Repeat("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	create(t, appBinding(fp.repo+"-etcd", src.URL), &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: fp.repo},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: "etcd-backup"},
				Target: &v1alpha1.BackupTarget{Ref: appBindingRef(fp.repo + "-etcd")},
			},
			Repository: v1alpha1.ObjectRef{Name: fp.repo},
			Schedule:   "0 0 1 1 *",
			Paused:     true,
		},
	})

	t.Run("refresh", func(t *testing.T) {
		bs := &v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Name: fp.repo + "-1"},
			Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
				APIGroup: v1alpha1.GroupVersion.Group, Kind: v1alpha1.KindBackupConfiguration, Name: fp.repo,
			}},
		}
		create(t, bs)
		waitFor(t, bs, func() bool { return bs.Status.Phase.IsFinal() })
		if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
			t.Fatalf("session ended %s: %s", bs.Status.Phase, bs.Status.Message)
		}

		var snaps []struct {
			ID       string    `json:"id"`
			Time     time.Time `json:"time"`
			Hostname string    `json:"hostname"`
			Tree     string    `json:"tree"`
		}
		if err := json.Unmarshal(fp.restic("snapshots", "--json"), &snaps); err != nil {
			t.Fatal(err)
		}
		var stats struct {
			TotalSize uint64 `json:"total_size"`
		}
		if err := json.Unmarshal(fp.restic("stats", "--mode", "raw-data", "--json"), &stats); err != nil {
			t.Fatal(err)
		}
		if len(snaps) != 1 {
			t.Fatalf("restic snapshots lists %d snapshots, want the session's one", len(snaps))
		}
		repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: fp.repo}}
		waitFor(t, repo, func() bool {
			st := repo.Status
			return st.Workflow == nil && st.SnapshotCount == 1
		})
		st := repo.Status
		got := map[string]any{
			"snapshotCount":   st.SnapshotCount,
			"totalSize":       st.TotalSize,
			"firstBackupTime": st.FirstBackupTime.UTC(),
			"lastBackupTime":  st.LastBackupTime.UTC(),
			"Initialized":     conditions.IsTrue(st.Conditions, conditions.Initialized),
			"Ready":           conditionReason(st.Conditions, v1alpha1.ConditionReady),
		}
		want := map[string]any{
			"snapshotCount":   int64(len(snaps)),
			"totalSize":       humanize.IBytes(stats.TotalSize),
			"firstBackupTime": snaps[0].Time.UTC().Truncate(time.Second),
			"lastBackupTime":  snaps[len(snaps)-1].Time.UTC().Truncate(time.Second),
			"Initialized":     true,
			"Ready":           "True/" + string(conditions.ReasonRefreshed),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Repository status against plain restic (-want +got):\n%s", diff)
		}

		// The Snapshot objects are restic's snapshots.
		var resticIDs, objectIDs []string
		for _, s := range snaps {
			resticIDs = append(resticIDs, s.ID)
		}
		objs := &v1alpha1.SnapshotList{}
		if err := env.Client.List(ctx, objs, client.InNamespace(env.Namespace), client.MatchingLabels{v1alpha1.LabelRepository: fp.repo}); err != nil {
			t.Fatal(err)
		}
		for _, o := range objs.Items {
			objectIDs = append(objectIDs, o.Spec.SnapshotID)
			// The status is restic's record, as the refresh listed it.
			if o.Status.Hostname != snaps[0].Hostname || o.Status.Tree != snaps[0].Tree || o.Status.Repository != fp.repo {
				t.Errorf("Snapshot %s: status hostname %q, tree %q, repository %q; restic says %q, %q (repository %s)",
					o.Name, o.Status.Hostname, o.Status.Tree, o.Status.Repository, snaps[0].Hostname, snaps[0].Tree, fp.repo)
			}
		}
		sort.Strings(resticIDs)
		sort.Strings(objectIDs)
		if diff := cmp.Diff(resticIDs, objectIDs); diff != "" {
			t.Errorf("Snapshot objects' ids against restic snapshots (-restic +objects):\n%s", diff)
		}

		// The refresh that read it: a Workflow of the Repository that
		// succeeded and whose step output what the status says.
		wfs := repositoryWorkflows(t, fp.repo, v1alpha1.RepositoryRunRefresh, repoUID)
		var after *wfv1.Workflow
		for i := range wfs {
			out := stepOutputs(&wfs[i])
			if wfs[i].Status.Phase == wfv1.WorkflowSucceeded && out["snapshotCount"] == "1" && out["totalSize"] == fmt.Sprint(stats.TotalSize) {
				after = &wfs[i]
			}
		}
		if after == nil {
			t.Fatalf("no refresh Workflow of %s succeeded with snapshotCount 1 and totalSize %d: %s", fp.repo, stats.TotalSize, workflowSummary(wfs))
		}
		if ttl := after.Spec.TTLStrategy; ttl == nil || ttl.SecondsAfterSuccess == nil || *ttl.SecondsAfterSuccess != int32(translators.RefreshRunTTL/time.Second) ||
			ttl.SecondsAfterCompletion == nil || *ttl.SecondsAfterCompletion != 86400 {
			t.Errorf("refresh Workflow %s: ttlStrategy %+v, want secondsAfterSuccess %d and secondsAfterCompletion 86400", after.Name, ttl, int(translators.RefreshRunTTL/time.Second))
		}
		t.Logf("%d refresh Workflow(s): %s; the status is the one of %s (%d bytes as JSON, with 1 snapshot listed)",
			len(wfs), workflowSummary(wfs), after.Name, len(mustJSON(t, after)))
	})
	if t.Failed() {
		return
	}

	t.Run("check", func(t *testing.T) {
		requestCheck(t, fp.repo, "first")
		repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: fp.repo}}
		waitFor(t, repo, func() bool {
			return repo.Status.CheckRequest == "first" && repo.Status.Workflow == nil &&
				conditionReason(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified) != "Unknown/"+string(conditions.ReasonChecking)
		})
		if got := conditionReason(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified); got != "True/"+string(conditions.ReasonNoErrorsFound) ||
			repo.Status.Integrity == nil || !*repo.Status.Integrity {
			t.Errorf("IntegrityVerified %s, integrity %v; want True/NoErrorsFound, true: %s", got, repo.Status.Integrity,
				conditions.Get(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified).Message)
		}
		wfs := repositoryWorkflows(t, fp.repo, v1alpha1.RepositoryRunCheck, repoUID)
		if len(wfs) != 1 || wfs[0].Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("check Workflows: %s; want one that succeeded", workflowSummary(wfs))
		}
		if msg := conditions.Get(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified).Message; !strings.Contains(msg, wfs[0].Name) {
			t.Errorf("IntegrityVerified %q does not name the check's Workflow %s", msg, wfs[0].Name)
		}
		if ttl := wfs[0].Spec.TTLStrategy; ttl == nil || ttl.SecondsAfterSuccess != nil {
			t.Errorf("check Workflow %s: ttlStrategy %+v, want the default only", wfs[0].Name, ttl)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("check finds a truncated pack", func(t *testing.T) {
		pack := testrepo.TruncatePack(t, fp.repoDir)
		requestCheck(t, fp.repo, "second")
		repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: fp.repo}}
		waitFor(t, repo, func() bool {
			return repo.Status.CheckRequest == "second" && repo.Status.Workflow == nil &&
				conditionReason(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified) != "Unknown/"+string(conditions.ReasonChecking)
		})
		cond := conditions.Get(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified)
		if got := conditionReason(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified); got != "False/"+string(conditions.ReasonErrorsFound) ||
			repo.Status.Integrity == nil || *repo.Status.Integrity {
			t.Fatalf("after truncating %s: IntegrityVerified %s, integrity %v; want False/ErrorsFound, false: %s", pack, got, repo.Status.Integrity, cond.Message)
		}
		wfs := repositoryWorkflows(t, fp.repo, v1alpha1.RepositoryRunCheck, repoUID)
		if len(wfs) != 2 || wfs[1].Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("check Workflows: %s; want two, the second succeeded (the step succeeds when restic check ran)", workflowSummary(wfs))
		}
		for _, want := range []string{"Repository " + env.Namespace + "/" + fp.repo, wfs[1].Name, "broken pack(s)"} {
			if !strings.Contains(cond.Message, want) {
				t.Errorf("IntegrityVerified message %q does not say %q", cond.Message, want)
			}
		}
		if strings.Contains(cond.Message, " 0 error(s)") {
			t.Errorf("IntegrityVerified message %q counts no error", cond.Message)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("wipe", func(t *testing.T) {
		repo := getRepository(t, fp.repo)
		base := repo.DeepCopy()
		repo.Spec.WipeOut = true
		if err := env.Client.Patch(ctx, repo, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Delete(ctx, repo); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(fullPathTimeout)
		for {
			err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: fp.repo}, &v1alpha1.Repository{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the Repository is still there %s after its deletion (err %v)", fullPathTimeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := os.Stat(fp.repoDir); !os.IsNotExist(err) {
			entries, _ := os.ReadDir(fp.repoDir)
			t.Errorf("the repository's directory %s is still there (%v, %d entries)", fp.repoDir, err, len(entries))
		}
		wfs := repositoryWorkflows(t, fp.repo, v1alpha1.RepositoryRunWipe, repoUID)
		if len(wfs) != 1 || wfs[0].Status.Phase != wfv1.WorkflowSucceeded {
			t.Errorf("wipe Workflows: %s; want one that succeeded", workflowSummary(wfs))
		}
	})

	t.Run("no secret in the Repository's Workflows", func(t *testing.T) {
		list, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelRepository + "=" + fp.repo})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) < 3 {
			t.Fatalf("%d Workflows of the Repository, want a refresh, a check and a wipe at least", len(list.Items))
		}
		noSecretInWorkflows(t, list.Items, fp.password)
	})
}

// repositoryWorkflows lists the Workflows labelled as runs of kind of
// Repository repo, oldest first, and checks that each tells whose and
// which run it is: the labels, the name <repo>-<repository|check|wipe>-…,
// and the Repository (uid) as its controlling owner.
func repositoryWorkflows(t *testing.T, repo, kind string, uid types.UID) []wfv1.Workflow {
	t.Helper()
	sel := v1alpha1.LabelRepository + "=" + repo + "," + v1alpha1.LabelRepositoryRun + "=" + kind
	list, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	prefix := map[string]string{
		v1alpha1.RepositoryRunRefresh: repo + "-repository-",
		v1alpha1.RepositoryRunCheck:   repo + "-check-",
		v1alpha1.RepositoryRunWipe:    repo + "-wipe-",
	}[kind]
	wfs := list.Items
	sort.Slice(wfs, func(i, j int) bool { return wfs[i].CreationTimestamp.Before(&wfs[j].CreationTimestamp) })
	for _, wf := range wfs {
		if !strings.HasPrefix(wf.Name, prefix) {
			t.Errorf("Workflow %s (%s=%s) is not named %s…", wf.Name, v1alpha1.LabelRepositoryRun, kind, prefix)
		}
		owner := metav1.GetControllerOf(&wf)
		if owner == nil || owner.Kind != "Repository" || owner.Name != repo || owner.UID != uid {
			t.Errorf("Workflow %s: controller %+v, want Repository %s (uid %s)", wf.Name, owner, repo, uid)
		}
		if pm := wf.Spec.PodMetadata; pm == nil || pm.Labels[v1alpha1.LabelRepository] != repo || pm.Labels[v1alpha1.LabelRepositoryRun] != kind {
			t.Errorf("Workflow %s: pod labels %+v, want %s=%s and %s=%s", wf.Name, pm, v1alpha1.LabelRepository, repo, v1alpha1.LabelRepositoryRun, kind)
		}
	}
	return wfs
}

func workflowSummary(wfs []wfv1.Workflow) string {
	var parts []string
	for _, wf := range wfs {
		parts = append(parts, fmt.Sprintf("%s (%s, created %s)", wf.Name, wf.Status.Phase, wf.CreationTimestamp.UTC().Format(time.RFC3339)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// requestCheck sets the check-requested annotation of Repository name.
func requestCheck(t *testing.T, name, value string) {
	t.Helper()
	repo := getRepository(t, name)
	base := repo.DeepCopy()
	if repo.Annotations == nil {
		repo.Annotations = map[string]string{}
	}
	repo.Annotations[v1alpha1.AnnotationCheckRequested] = value
	if err := env.Client.Patch(context.Background(), repo, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

func getRepository(t *testing.T, name string) *v1alpha1.Repository {
	t.Helper()
	repo := &v1alpha1.Repository{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: env.Namespace, Name: name}, repo); err != nil {
		t.Fatal(err)
	}
	return repo
}

// conditionReason is "<status>/<reason>" of condition typ, "" if unset.
func conditionReason(conds []v1alpha1.Condition, typ string) string {
	c := conditions.Get(conds, typ)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

// stepOutputs are the output parameters of the Workflow's pod nodes.
func stepOutputs(wf *wfv1.Workflow) map[string]string {
	out := map[string]string{}
	for _, n := range wf.Status.Nodes {
		if n.Type != wfv1.NodeTypePod || n.Outputs == nil {
			continue
		}
		for _, p := range n.Outputs.Parameters {
			if p.Value != nil {
				out[p.Name] = p.Value.String()
			}
		}
	}
	return out
}
