package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// bulkIndexer sends documents to the bulk API: workers goroutines take
// documents from one queue, each fills a request of up to flushBytes
// (a document larger than that goes alone) and sends it through the
// conn's transport, so that requests have its node pool and retries
// (retry429 for whole requests answered 429). It replaces
// go-elasticsearch's esutil.BulkIndexer, whose package imports the whole
// client (go-elasticsearch/v8 and its typed API, ≈ 14 MiB of the step's
// binary) for one default and one header; the behaviour kept is
// esutil's: an item fails when its answer has an error or a status above
// 201, and a request that fails as a whole is reported to onError, its
// documents neither acknowledged nor failed. Unlike esutil, requests carry
// the run's context, the metadata line is JSON (esutil quotes with Go's
// strconv.Quote) and an answer with more or fewer items than the request
// had is an error rather than a panic or a silent gap; an answer without
// items (a server that does not list them) acknowledges none and is left
// to the count check.
type bulkIndexer struct {
	c          *conn
	ctx        context.Context
	flushBytes int
	decoder    *bulkDecoder
	// onSuccess and onFailure are called for each answered item, from the
	// worker that sent it; onError for a request that failed as a whole.
	onSuccess func(*docBody)
	onFailure func(*docBody, bulkResult, error)
	onError   func(error)

	queue chan *docBody
	wg    sync.WaitGroup
}

// bulkResult is one item of a bulk answer: what the loader looks at.
type bulkResult struct {
	Op         string
	Index      string
	DocumentID string
	Result     string
	Status     int
	Error      bulkError
}

// bulkError is an item's error object.
type bulkError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
	Cause  struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"caused_by"`
}

// bulkResponse is a bulk answer.
type bulkResponse struct {
	Took      int
	HasErrors bool
	Items     []bulkResult
}

// start starts the workers.
func (bi *bulkIndexer) start(workers int) {
	bi.queue = make(chan *docBody, workers)
	for range workers {
		bi.wg.Add(1)
		go bi.work()
	}
}

// add queues one document; it blocks while every worker is sending.
func (bi *bulkIndexer) add(ctx context.Context, d *docBody) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case bi.queue <- d:
		return nil
	}
}

// close sends what is queued and waits for the workers. No document may be
// added afterwards.
func (bi *bulkIndexer) close() {
	close(bi.queue)
	bi.wg.Wait()
}

func (bi *bulkIndexer) work() {
	defer bi.wg.Done()
	var (
		buf   bytes.Buffer
		items []*docBody
	)
	flush := func() {
		if len(items) > 0 {
			bi.send(buf.Bytes(), items)
		}
		buf.Reset()
		clear(items)
		items = items[:0]
	}
	for d := range bi.queue {
		size := len(d.index) + len(d.id) + len(d.routing) + len(d.raw) + 48
		if buf.Len() > 0 && buf.Len()+size >= bi.flushBytes {
			flush()
		}
		if buf.Cap() == 0 {
			buf.Grow(min(bi.flushBytes, 1<<20) + size)
		}
		appendAction(&buf, d)
		buf.Write(d.raw)
		buf.WriteByte('\n')
		items = append(items, d)
		if buf.Len() >= bi.flushBytes {
			flush()
		}
	}
	flush()
}

// appendAction writes the item's action line: {"index":{...}}.
func appendAction(buf *bytes.Buffer, d *docBody) {
	buf.WriteString(`{"index":{"_index":`)
	writeJSONString(buf, d.index)
	if d.id != "" {
		buf.WriteString(`,"_id":`)
		writeJSONString(buf, d.id)
	}
	if d.routing != "" {
		buf.WriteString(`,"routing":`)
		writeJSONString(buf, d.routing)
	}
	buf.WriteString("}}\n")
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// send posts one request and reports its items.
func (bi *bulkIndexer) send(body []byte, items []*docBody) {
	res, err := bi.c.do(bi.ctx, http.MethodPost, "/_bulk", nil, body)
	if err != nil {
		bi.onError(err)
		return
	}
	var blk bulkResponse
	err = bi.decoder.decode(res.Body, &blk)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		bi.onError(fmt.Errorf("POST /_bulk: %w", err))
		return
	}
	if len(blk.Items) == 0 {
		return
	}
	if len(blk.Items) != len(items) {
		bi.onError(fmt.Errorf("POST /_bulk: the answer has %d items for %d documents sent", len(blk.Items), len(items)))
		return
	}
	for i, r := range blk.Items {
		if r.Error.Type != "" || r.Status > http.StatusCreated {
			bi.onFailure(items[i], r, nil)
			continue
		}
		bi.onSuccess(items[i])
	}
}

// bulkDecoder reads bulk responses with the scanner of scan.go instead of
// encoding/json's reflection, which cost half of the restore's CPU. It
// fills what the loader looks at: the operation, status and error of each
// item (plus _index, _id and result).
type bulkDecoder struct{ pool sync.Pool }

func (d *bulkDecoder) decode(r io.Reader, blk *bulkResponse) error {
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
				var it bulkResult
				end, err := walkObject(body, e, func(op []byte, v int) (int, error) {
					it.Op = string(op)
					return walkObject(body, v, func(k []byte, fv int) (int, error) {
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
				})
				blk.Items = append(blk.Items, it)
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
