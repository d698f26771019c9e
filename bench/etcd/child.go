package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// childArg makes the bench binary run one measured step in a process of
// its own.
const childArg = "__bench-child"

// child runs one step:
//
//	save <endpoint> <file>            Maintenance.Snapshot to a file (= etcdctl snapshot save)
//	discard <endpoint>                Maintenance.Snapshot into io.Discard
//	etcdutl-restore <file> <data-dir> etcdutl snapshot restore (the library etcdutl runs)
func child(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no child command")
	}
	ctx := context.Background()
	switch args[0] {
	case "save", "discard":
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{args[1]}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		defer cli.Close()
		rc, err := cli.Snapshot(ctx)
		if err != nil {
			return err
		}
		defer rc.Close()
		if args[0] == "discard" {
			_, err = io.Copy(io.Discard, rc)
			return err
		}
		// What etcdctl snapshot save does: write to <file>.part, fsync, rename.
		part := args[2] + ".part"
		f, err := os.Create(part)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, rc); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(part, args[2])
	case "etcdutl-restore":
		return snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
			SnapshotPath: args[1], Name: "default", OutputDataDir: args[2],
			PeerURLs: []string{"http://localhost:2380"}, InitialCluster: "default=http://localhost:2380",
			InitialClusterToken: "etcd-cluster",
		})
	}
	return fmt.Errorf("unknown child command %q", args[0])
}
