package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loader feeds documents to a bulkIndexer (bulk.go). Whole requests answered
// 429 are retried by the transport (retry429, honouring Retry-After);
// single items rejected with 429 inside a bulk response are collected and
// sent again in rounds with backoff: when they pile up past retryLimit
// bytes, and at the end.
type loader struct {
	c          *conn
	ctx        context.Context
	log        *slog.Logger
	workers    int
	flushBytes int

	bi       *bulkIndexer
	biClosed bool

	mu         sync.Mutex
	retry      []*docBody
	retryBytes int
	fatal      error
	failed     map[string]*itemFailures

	decoder *bulkDecoder

	indexed sync.Map // target index → *atomic.Int64
	added   atomic.Int64
}

// retry limits for items rejected with 429.
const (
	retryLimit     = 16 << 20
	maxRetryRounds = 10
)

type itemFailures struct {
	n     int
	first string
}

// docBody is one document to index, kept whole so that a rejected item can
// be sent again.
type docBody struct {
	index, id, routing string
	raw                []byte
}

// newLoader returns a loader whose bulk requests carry ctx.
func newLoader(ctx context.Context, c *conn, log *slog.Logger, workers, flushBytes int) *loader {
	l := &loader{c: c, ctx: ctx, log: log, workers: workers, flushBytes: flushBytes, failed: map[string]*itemFailures{}, decoder: &bulkDecoder{}}
	l.bi = l.newIndexer()
	return l
}

func (l *loader) newIndexer() *bulkIndexer {
	bi := &bulkIndexer{
		c: l.c, ctx: l.ctx, flushBytes: l.flushBytes, decoder: l.decoder,
		onSuccess: l.onSuccess, onFailure: l.onFailure,
		onError: func(err error) { l.setFatal(fmt.Errorf("bulk request failed: %w", err)) },
	}
	bi.start(l.workers)
	return bi
}

func (l *loader) setFatal(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatal == nil {
		l.fatal = err
	}
}

func (l *loader) fatalErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

func (l *loader) counter(index string) *atomic.Int64 {
	v, _ := l.indexed.LoadOrStore(index, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// Indexed returns the documents the server acknowledged for index.
func (l *loader) Indexed(index string) int64 { return l.counter(index).Load() }

func (l *loader) onSuccess(d *docBody) { l.counter(d.index).Add(1) }

func (l *loader) onFailure(d *docBody, res bulkResult, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && res.Status == http.StatusTooManyRequests {
		l.retry = append(l.retry, d)
		l.retryBytes += len(d.raw)
		return
	}
	f := l.failed[d.index]
	if f == nil {
		f = &itemFailures{}
		l.failed[d.index] = f
	}
	f.n++
	if f.first == "" {
		switch {
		case err != nil:
			f.first = fmt.Sprintf("document %s: %v", d.id, err)
		default:
			f.first = fmt.Sprintf("document %s: HTTP %d %s: %s", d.id, res.Status, res.Error.Type, res.Error.Reason)
			if res.Error.Cause.Reason != "" {
				f.first += " (caused by " + res.Error.Cause.Type + ": " + res.Error.Cause.Reason + ")"
			}
		}
	}
}

// add queues one document.
func (l *loader) add(ctx context.Context, index, id, routing string, source []byte) error {
	if err := l.fatalErr(); err != nil {
		return err
	}
	l.mu.Lock()
	pile := l.retryBytes
	l.mu.Unlock()
	if pile > retryLimit {
		if err := l.drain(ctx); err != nil {
			return err
		}
	}
	l.added.Add(1)
	return l.bi.add(ctx, &docBody{index: index, id: id, routing: routing, raw: source})
}

// closeIndexer closes the current indexer once: what was queued is sent.
func (l *loader) closeIndexer(ctx context.Context) error {
	if !l.biClosed {
		l.biClosed = true
		l.bi.close()
	}
	return ctx.Err()
}

// abort flushes what was queued and stops, ignoring errors.
func (l *loader) abort(ctx context.Context) { _ = l.closeIndexer(ctx) }

// drain flushes everything queued and sends rejected items again until
// none is left; afterwards documents can be added again.
func (l *loader) drain(ctx context.Context) error {
	for round := 1; ; round++ {
		if err := l.closeIndexer(ctx); err != nil {
			return err
		}
		l.mu.Lock()
		items := l.retry
		l.retry, l.retryBytes = nil, 0
		l.mu.Unlock()
		l.bi, l.biClosed = l.newIndexer(), false
		if err := l.fatalErr(); err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		if round > maxRetryRounds {
			return fmt.Errorf("%d documents were still rejected with 429 Too Many Requests after %d rounds of retries: the cluster is overloaded; retry later or lower --workers/--bulk-size", len(items), maxRetryRounds)
		}
		wait := backoff(round, 500*time.Millisecond, 30*time.Second)
		l.log.Info("elasticsearch rejected documents (429 Too Many Requests), sending them again", "documents", len(items), "after", wait.String(), "round", round)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		for _, it := range items {
			if err := l.bi.add(ctx, it); err != nil {
				return err
			}
		}
	}
}

// finish flushes and retries everything, then closes the indexer. It
// reports documents that failed for good, per index.
func (l *loader) finish(ctx context.Context) error {
	if err := l.drain(ctx); err != nil {
		l.abort(ctx)
		return err
	}
	if err := l.closeIndexer(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failed) == 0 {
		return nil
	}
	names := make([]string, 0, len(l.failed))
	for n := range l.failed {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		f := l.failed[n]
		parts = append(parts, fmt.Sprintf("index %s: %d document(s) failed, first %s", n, f.n, f.first))
	}
	return errors.New(strings.Join(parts, "; "))
}
