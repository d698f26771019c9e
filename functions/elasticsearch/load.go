package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// loader feeds documents to an esutil.BulkIndexer. Whole requests answered
// 429 are retried by the transport (retry429, honouring Retry-After);
// single items rejected with 429 inside a bulk response are collected and
// sent again in rounds with backoff: when they pile up past retryLimit
// bytes, and at the end.
type loader struct {
	c          *conn
	log        *slog.Logger
	workers    int
	flushBytes int

	bi       esutil.BulkIndexer
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

// docBody is an item's body that remembers what it was made of, so that a
// rejected item can be sent again.
type docBody struct {
	*bytes.Reader
	index, id, routing string
	raw                []byte
}

func newLoader(c *conn, log *slog.Logger, workers, flushBytes int) (*loader, error) {
	l := &loader{c: c, log: log, workers: workers, flushBytes: flushBytes, failed: map[string]*itemFailures{}, decoder: &bulkDecoder{}}
	bi, err := l.newIndexer()
	if err != nil {
		return nil, err
	}
	l.bi = bi
	return l, nil
}

func (l *loader) newIndexer() (esutil.BulkIndexer, error) {
	return esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     l.c.es.Transport,
		NumWorkers: l.workers,
		FlushBytes: l.flushBytes,
		Decoder:    l.decoder,
		OnError: func(_ context.Context, err error) {
			l.setFatal(fmt.Errorf("bulk request failed: %w", err))
		},
	})
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

func (l *loader) onSuccess(_ context.Context, item esutil.BulkIndexerItem, _ esutil.BulkIndexerResponseItem) {
	l.counter(item.Index).Add(1)
}

func (l *loader) onFailure(_ context.Context, item esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
	body, _ := item.Body.(*docBody)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && res.Status == http.StatusTooManyRequests && body != nil {
		l.retry = append(l.retry, body)
		l.retryBytes += len(body.raw)
		return
	}
	f := l.failed[item.Index]
	if f == nil {
		f = &itemFailures{}
		l.failed[item.Index] = f
	}
	f.n++
	if f.first == "" {
		switch {
		case err != nil:
			f.first = fmt.Sprintf("document %s: %v", item.DocumentID, err)
		default:
			f.first = fmt.Sprintf("document %s: HTTP %d %s: %s", item.DocumentID, res.Status, res.Error.Type, res.Error.Reason)
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
	return l.addBody(ctx, &docBody{Reader: bytes.NewReader(source), index: index, id: id, routing: routing, raw: source})
}

func (l *loader) addBody(ctx context.Context, b *docBody) error {
	b.Reset(b.raw)
	return l.bi.Add(ctx, esutil.BulkIndexerItem{
		Index: b.index, Action: "index", DocumentID: b.id, Routing: b.routing, Body: b,
		OnSuccess: l.onSuccess, OnFailure: l.onFailure,
	})
}

// closeIndexer closes the current indexer once.
func (l *loader) closeIndexer(ctx context.Context) error {
	if l.biClosed {
		return nil
	}
	l.biClosed = true
	return l.bi.Close(ctx)
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
		bi, err := l.newIndexer()
		if err != nil {
			return err
		}
		l.bi, l.biClosed = bi, false
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
			if err := l.addBody(ctx, it); err != nil {
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

// bulkDecoder reads bulk responses with the scanner of scan.go instead of
// encoding/json's reflection, which cost half of the restore's CPU. It
// fills what esutil looks at: the operation, status and error of each
// item (plus _index, _id and result).
type bulkDecoder struct{ pool sync.Pool }

func (d *bulkDecoder) UnmarshalFromReader(r io.Reader, blk *esutil.BulkIndexerResponse) error {
	buf, _ := d.pool.Get().(*bytes.Buffer)
	if buf == nil {
		buf = &bytes.Buffer{}
	}
	defer func() {
		if buf.Cap() <= 16<<20 {
			buf.Reset()
			d.pool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	body := buf.Bytes()
	_, err := walkObject(body, 0, func(key []byte, v int) (int, error) {
		switch string(key) {
		case "took", "errors":
			val, end, err := rawValue(body, v)
			if string(key) == "took" {
				blk.Took, _ = strconv.Atoi(string(val))
			} else {
				blk.HasErrors = string(val) == "true"
			}
			return end, err
		case "items":
			return walkArray(body, v, func(e int) (int, error) {
				item := make(map[string]esutil.BulkIndexerResponseItem, 1)
				end, err := walkObject(body, e, func(op []byte, v int) (int, error) {
					var it esutil.BulkIndexerResponseItem
					end, err := walkObject(body, v, func(k []byte, fv int) (int, error) {
						switch string(k) {
						case "status", "_index", "_id", "result", "error":
						default:
							return -1, nil
						}
						val, end, err := rawValue(body, fv)
						if err != nil {
							return 0, err
						}
						switch string(k) {
						case "status":
							it.Status, _ = strconv.Atoi(string(val))
						case "_index":
							it.Index, _ = unquote(val)
						case "_id":
							it.DocumentID, _ = unquote(val)
						case "result":
							it.Result, _ = unquote(val)
						case "error":
							if len(val) > 0 && val[0] == '{' {
								return end, json.Unmarshal(val, &it.Error)
							}
							it.Error.Type = "error"
							it.Error.Reason, _ = unquote(val)
						}
						return end, nil
					})
					item[string(op)] = it
					return end, err
				})
				blk.Items = append(blk.Items, item)
				return end, err
			})
		}
		return -1, nil
	})
	if err != nil {
		return fmt.Errorf("cannot parse the bulk response: %w", err)
	}
	return nil
}
