package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/stashflow/stashflow/functions/step"
)

// Bounds of one transaction. etcd's defaults are --max-txn-ops=128 and
// --max-request-bytes=1.5 MiB; 1 MiB of keys and values leaves room for
// the request's framing.
const (
	defaultMaxTxnOps   = 128
	defaultMaxTxnBytes = 1 << 20
	// opOverhead approximates the bytes one put adds beyond key and value.
	opOverhead = 16
	// listPage is the page size when listing keys for --delete-absent.
	listPage = 1000
)

// liveOnlyFlagNames are refused in datadir mode when set to non-default
// values (the connection flags are merely ignored there).
var liveOnlyFlagNames = []string{"prefix", "delete-absent", "max-txn-ops", "max-txn-bytes", "concurrency"}

// liveFlags are the flags of --mode=live.
type liveFlags struct {
	conn         connFlags
	prefix       string
	deleteAbsent bool
	maxTxnOps    int
	maxTxnBytes  int
	concurrency  int
}

func (l *liveFlags) addFlags(fs *pflag.FlagSet) {
	l.conn.addFlags(fs)
	fs.StringVar(&l.prefix, "prefix", "", "live: restore only keys with this prefix")
	fs.BoolVar(&l.deleteAbsent, "delete-absent", false, "live: delete keys (under --prefix) that the snapshot does not have")
	fs.IntVar(&l.maxTxnOps, "max-txn-ops", defaultMaxTxnOps, "live: operations per transaction (etcd's --max-txn-ops)")
	fs.IntVar(&l.maxTxnBytes, "max-txn-bytes", defaultMaxTxnBytes, "live: bytes of keys and values per transaction (below etcd's --max-request-bytes)")
	fs.IntVar(&l.concurrency, "concurrency", 4, "live: transactions in flight")
}

func (l *liveFlags) validate() error {
	if err := l.conn.validate(); err != nil {
		return err
	}
	if l.maxTxnOps < 1 {
		return errors.New("--max-txn-ops: must be at least 1")
	}
	if l.maxTxnBytes < 1024 {
		return errors.New("--max-txn-bytes: must be at least 1024")
	}
	if l.concurrency < 1 || l.concurrency > 64 {
		return errors.New("--concurrency: must be between 1 and 64")
	}
	return nil
}

type liveResult struct {
	revision int64
	written  int64
	deleted  int64
}

// restore replays the snapshot's latest state under the prefix into the
// running cluster, then deletes keys the snapshot lacks (--delete-absent).
// Each transaction is unconditional: puts (and deletes) of distinct keys,
// bounded by --max-txn-ops and --max-txn-bytes. The cluster stays up and
// serving; the restore as a whole is not atomic. Keys are written without
// their leases.
//
// verified delivers the verdict on the file's sha256 trailer, checked beside
// the reading of the snapshot: nothing is written to the cluster before it
// has come, and a damaged file is reported as such rather than as what
// bbolt made of it.
func (l *liveFlags) restore(ctx context.Context, env *step.Env, file string, verified <-chan error) (liveResult, error) {
	var res liveResult
	db, err := openSnapshotDB(file)
	var state *latestState
	if err == nil {
		defer func() { _ = db.Close() }() // read-only: nothing to lose on close
		if state, err = db.latest([]byte(l.prefix)); err != nil {
			err = fmt.Errorf("read snapshot: %w", err)
		}
	}
	if verr := <-verified; verr != nil {
		return res, verr
	}
	if err != nil {
		return res, err
	}
	res.revision = state.revision
	log := env.Logger()
	log.Info("snapshot read", "revision", state.revision, "keys", len(state.live), "prefix", l.prefix)

	cli, mem, err := l.conn.pickMember(ctx, env)
	if err != nil {
		return res, err
	}
	defer cli.Close()
	log.Info("restoring into running etcd", "member", mem.label(), "endpoint", mem.endpoint)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.concurrency)
	var written, deleted atomic.Int64
	commit := func(ops []clientv3.Op, counter *atomic.Int64) {
		g.Go(func() error {
			if _, err := cli.Txn(gctx).Then(ops...).Commit(); err != nil {
				return fmt.Errorf("etcd transaction of %d operations: %w", len(ops), describeStreamError(err))
			}
			counter.Add(int64(len(ops)))
			return nil
		})
	}

	var ops []clientv3.Op
	size := 0
	err = db.each(state, func(key, value []byte) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		n := len(key) + len(value) + opOverhead
		if len(ops) > 0 && (len(ops) >= l.maxTxnOps || size+n > l.maxTxnBytes) {
			commit(ops, &written)
			ops, size = nil, 0
		}
		// OpPut copies key and value (they live in the mmap'd file).
		ops = append(ops, clientv3.OpPut(string(key), string(value)))
		size += n
		return nil
	})
	if err == nil && len(ops) > 0 {
		commit(ops, &written)
	}
	if werr := g.Wait(); werr != nil || err != nil {
		res.written = written.Load()
		return res, errors.Join(werr, ignoreCanceled(err, werr))
	}
	res.written = written.Load()

	if l.deleteAbsent {
		g, gctx = errgroup.WithContext(ctx)
		g.SetLimit(l.concurrency)
		ops, size = nil, 0
		err = listKeys(gctx, cli, l.prefix, func(key []byte) {
			if _, keep := state.live[string(key)]; keep {
				return
			}
			n := len(key) + opOverhead
			if len(ops) > 0 && (len(ops) >= l.maxTxnOps || size+n > l.maxTxnBytes) {
				commit(ops, &deleted)
				ops, size = nil, 0
			}
			ops = append(ops, clientv3.OpDelete(string(key)))
			size += n
		})
		if err == nil && len(ops) > 0 {
			commit(ops, &deleted)
		}
		werr := g.Wait()
		res.deleted = deleted.Load()
		if err := errors.Join(werr, ignoreCanceled(err, werr)); err != nil {
			return res, err
		}
	}
	log.Info("live restore done", "keysWritten", res.written, "keysDeleted", res.deleted)
	return res, nil
}

// ignoreCanceled drops err when it only echoes the cancellation caused by
// cause.
func ignoreCanceled(err, cause error) error {
	if cause != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// listKeys calls fn for every key under prefix ("" for all), a page at a
// time, all pages at the revision of the first one.
func listKeys(ctx context.Context, cli *clientv3.Client, prefix string, fn func(key []byte)) error {
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	if prefix == "" {
		start, end = "\x00", "\x00"
	}
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(listPage)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := cli.Get(ctx, start, opts...)
		if err != nil {
			return fmt.Errorf("list keys: %w", describeStreamError(err))
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			fn(kv.Key)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
