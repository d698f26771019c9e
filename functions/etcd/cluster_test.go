package etcd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

// TestClusterDataDirRestore backs up a 3-member cluster (with one member
// down, so the backup must pick a healthy one), restores all three data
// directories in one run, starts the restored cluster and reads the data
// from every member.
func TestClusterDataDirRestore(t *testing.T) {
	src := testservers.StartEtcd(t, 3, nil)
	want := dataset{keys: 3_000, bigEvery: 500, overwrite: 300, deletes: 100, seed: 2}.load(t, src.Client(t))
	repo := localRepo(t)
	// The first endpoint is down: the backup skips it.
	src.Members[0].Stop()
	out := mustRun(t, NewBackup(), testEnv(t, repo), "--endpoints", strings.Join(src.Endpoints(), ","), "--dial-timeout", "2s")
	if out[OutputMember] == "m0" || out[OutputMember] == "" {
		t.Errorf("member = %q, want a healthy one (m1 or m2)", out[OutputMember])
	}
	src.Stop()

	dst := testservers.PlanEtcd(t, 3, nil)
	args := []string{"--mode", "datadir", "--initial-cluster", dst.InitialCluster(), "--initial-cluster-token", dst.Token}
	for _, m := range dst.Members {
		args = append(args, "--member", m.Name+"="+m.DataDir)
	}
	// A full snapshot ID is fetched while it is checked against the
	// filter: a mismatch fails before any data directory is written.
	id := out[outputs.SnapshotID]
	_, err := runFn(t, NewRestore(), testEnv(t, repo), append(args, "--snapshot", id, "--session", "another")...)
	if want := fmt.Sprintf("no snapshot %q matches tags session=another", id); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("full id, other session: err = %v, want it to contain %q", err, want)
	}
	for _, m := range dst.Members {
		if empty, err := dirEmpty(m.DataDir); err != nil || !empty {
			t.Errorf("%s: data directory written by a refused restore (empty %v, %v)", m.Name, empty, err)
		}
	}
	res := mustRun(t, NewRestore(), testEnv(t, repo), append(args, "--snapshot", id)...)
	if res[OutputMembers] != "m0,m1,m2" || res[outputs.SnapshotID] != out[outputs.SnapshotID] {
		t.Errorf("outputs %v", jsonString(res))
	}
	dst.Start(t)
	for _, m := range dst.Members {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		st, err := cli.Status(context.Background(), m.ClientURL)
		if err != nil {
			t.Fatal(err)
		}
		ml, err := cli.MemberList(context.Background())
		if err != nil || len(ml.Members) != 3 {
			t.Fatalf("%s: member list %v, %v", m.Name, ml, err)
		}
		if diff := diffData(want, readAll(t, cli, "")); diff != "" {
			t.Fatalf("%s (leader %x): %s", m.Name, st.Leader, diff)
		}
	}
	// The restored cluster takes writes.
	if _, err := dst.Client(t).Put(context.Background(), "/after", "restore"); err != nil {
		t.Fatal(err)
	}
}

// TestTLS backs up and restores a cluster that requires client
// certificates, with the TLS material given as environment content.
func TestTLS(t *testing.T) {
	tl := testservers.NewTLS(t)
	src := testservers.StartEtcd(t, 1, tl)
	cli := src.Client(t)
	want := dataset{keys: 1_000, bigEvery: 200, overwrite: 50, deletes: 50, seed: 3}.load(t, cli)
	repo := localRepo(t)
	eps := strings.Join(src.Endpoints(), ",")

	// Without the client certificate the member is unreachable.
	noCert := []string{"ETCD_CACERT=" + tl.CA}
	if _, err := runFn(t, NewBackup(), testEnv(t, repo, noCert), "--endpoints", eps, "--dial-timeout", "2s"); err == nil ||
		!strings.Contains(err.Error(), "no healthy etcd member") {
		t.Fatalf("backup without a client certificate: err = %v", err)
	}

	mustRun(t, NewBackup(), testEnv(t, repo, src.Env()), "--endpoints", eps)
	wipe(t, cli)
	res := mustRun(t, NewRestore(), testEnv(t, repo, src.Env()), "--mode", "live", "--endpoints", eps)
	if diff := diffData(want, readAll(t, cli, "")); diff != "" {
		t.Fatal(diff)
	}
	if res[OutputKeysDeleted] != "0" {
		t.Errorf("keysDeleted = %s without --delete-absent", res[OutputKeysDeleted])
	}

	// The CA as the AppBinding's caBundle (the step's TARGET_CA_BUNDLE)
	// instead of the Secret's ca.crt; a server name the certificate does not
	// have is refused, which shows serverName reaches the TLS handshake.
	var bundle []string
	for _, kv := range src.Env() {
		if !strings.HasPrefix(kv, "ETCD_CACERT=") {
			bundle = append(bundle, kv)
		}
	}
	bundle = append(bundle, outputs.TargetCABundleEnv+"="+tl.CA)
	mustRun(t, NewBackup(), testEnv(t, repo, bundle), "--endpoints", eps)
	wrongName := append(slices.Clone(bundle), outputs.TargetServerNameEnv+"=elsewhere.internal")
	if _, err := runFn(t, NewBackup(), testEnv(t, repo, wrongName), "--endpoints", eps, "--dial-timeout", "2s"); err == nil {
		t.Error("a backup with a server name the certificate does not have succeeded")
	}
}
