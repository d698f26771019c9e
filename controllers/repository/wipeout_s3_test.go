package repository_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestWipeOutS3: a Repository on MinIO deleted with wipeOut: true has its
// repository deleted from the bucket by the operator's run (plain restic
// then says it does not exist), while a repository at a sibling prefix
// (team/db-other) keeps its snapshot; the Repository goes, with the
// WipedOut event.
func TestWipeOutS3(t *testing.T) {
	t.Parallel()
	s3 := testservers.StartS3Server(t)
	ns := ot.Namespace(t, c, nil)
	loc := func(prefix string) string { return "s3:" + s3.Endpoint + "/" + s3.Bucket + "/" + prefix }
	keys := []string{"AWS_ACCESS_KEY_ID=" + s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3.SecretKey}
	initialise := `restic cat config --no-cache -q >/dev/null 2>&1 || restic init -q`
	wiped := backupOutsideAt(t, loc("team/db"), "db", initialise, keys...)
	backupOutsideAt(t, loc("team/db-other"), "other", initialise, keys...)

	repo := &v1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wipe"},
		Spec: v1alpha1.RepositorySpec{WipeOut: true, Backend: v1alpha1.Backend{
			StorageSecretName: "wipe-secret",
			S3:                &v1alpha1.S3Spec{Endpoint: s3.Endpoint, Bucket: s3.Bucket, Prefix: "team/db"},
		}},
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wipe-secret"},
		StringData: map[string]string{"RESTIC_PASSWORD": password, "AWS_ACCESS_KEY_ID": s3.AccessKey, "AWS_SECRET_ACCESS_KEY": s3.SecretKey},
	}
	ot.Create(t, c, repo, secret)
	ot.Start(t, env, ns, fast)
	waitSnapshot(t, ns, "wipe", wiped, func(*v1alpha1.Snapshot) string { return "" })

	deleteObject(t, repo)
	ot.Eventually(t, time.Minute, func() string {
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "wipe"}, &v1alpha1.Repository{}); !apierrors.IsNotFound(err) {
			return fmt.Sprintf("Repository wipe still there (%v)", err)
		}
		return ""
	})
	ot.WaitEvent(t, c, ns, string(conditions.ReasonWipedOut), "deleted its data at s3:"+s3.Endpoint+"/"+s3.Bucket+"/team/db", 1)
	if out, code := resticAt(t, loc("team/db"), keys, "snapshots"); code != 10 || !strings.Contains(out, "repository does not exist") {
		t.Errorf("restic snapshots of the wiped repository: exit %d, want 10 (repository does not exist)\n%s", code, out)
	}
	if out, code := resticAt(t, loc("team/db-other"), keys, "snapshots", "--json"); code != 0 || !strings.Contains(out, `"hostname":"other"`) {
		t.Errorf("restic snapshots of the sibling repository: exit %d, want its snapshot\n%s", code, out)
	}
}

// resticAt runs plain restic on location with env and returns its output
// and exit code.
func resticAt(t *testing.T, location string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "restic", append([]string{"--no-cache"}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), "RESTIC_REPOSITORY="+location, "RESTIC_PASSWORD="+password)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("restic %v: %v", args, err)
	}
	return string(out), 0
}
