package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// docExport pages through one index's documents.
type docExport struct {
	x      *exporter
	aw     *archiveWriter
	index  string
	slices int
	window int
}

func (d *docExport) run(ctx context.Context) (indexSummary, error) {
	x := d.x
	if !x.noPIT.Load() {
		n, err := d.viaPIT(ctx)
		if !errors.Is(err, errUnsupported) {
			return indexSummary{Documents: n, Method: methodPIT, Slices: d.slices}, err
		}
		x.noPIT.Store(true)
		x.log.Warn("the server has no point in time with _shard_doc sort (Elasticsearch ≥ 7.12): falling back to scroll", "reason", err.Error())
	}
	if !x.noScroll.Load() {
		n, err := d.viaScroll(ctx)
		if !errors.Is(err, errUnsupported) {
			return indexSummary{Documents: n, Method: methodScroll, Slices: d.slices}, err
		}
		x.noScroll.Store(true)
		x.log.Warn("the server has neither point in time nor scroll: falling back to from/size paging, which sees no consistent snapshot and stops at index.max_result_window", "reason", err.Error())
		if x.stderr != nil {
			fmt.Fprintf(x.stderr, "elasticsearch-backup: the server supports neither point in time nor scroll; paging with from/size (no consistent snapshot, at most index.max_result_window documents per index)\n")
		}
	}
	n, err := d.viaFromSize(ctx)
	return indexSummary{Documents: n, Method: methodFromSize, Slices: 1}, err
}

// unsupported wraps err as errUnsupported when it says the server lacks
// the API.
func unsupported(err error) error {
	if ae, ok := asAPIError(err); ok && ae.missingAPI() {
		return fmt.Errorf("%w: %w", errUnsupported, err)
	}
	return err
}

// post sends a JSON body and reads the whole answer into buf.
func (d *docExport) post(ctx context.Context, path string, q url.Values, body any, buf *bytes.Buffer) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	res, err := d.x.c.do(ctx, http.MethodPost, path, q, b)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if buf.Cap() > 4*targetPageBytes {
		*buf = bytes.Buffer{}
	}
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	return nil
}

// readPage parses a search answer (hits into out) and checks it with
// checkPage; a page that fails the check is returned with the error.
func readPage(b []byte, out *bytes.Buffer, seen func(id []byte) bool) (page, error) {
	pg, err := parsePage(b, out, seen)
	if err != nil {
		return page{}, err
	}
	return pg, checkPage(pg)
}

func checkPage(p page) error {
	if p.timedOut {
		return errors.New("the search timed out: the page may be incomplete")
	}
	if p.failed > 0 {
		return fmt.Errorf("%d shard(s) failed: %s", p.failed, p.failure)
	}
	return nil
}

// slicePager fetches one slice; next appends a page to out and reports the
// hits.
type slicePager interface {
	next(ctx context.Context, out *bytes.Buffer) (int, error)
	close(ctx context.Context)
}

// runSlices runs newPager for each slice, at most parallel at once, and
// writes their documents as chunks. It returns the documents written.
func (d *docExport) runSlices(ctx context.Context, slices int, newPager func(slice int) slicePager) (int64, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int, slices)
	for i := range slices {
		jobs <- i
	}
	close(jobs)
	var (
		total    atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(slices, d.x.o.parallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slice := range jobs {
				n, err := d.runSlice(ctx, slice, newPager(slice))
				total.Add(n)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return total.Load(), err
	}
	return total.Load(), firstErr
}

// runCounted runs the slices and checks the documents exported against
// want, the server's count (negative: not counted); mismatch formats the
// two.
func (d *docExport) runCounted(ctx context.Context, slices int, want int64, mismatch string, newPager func(slice int) slicePager) (int64, error) {
	n, err := d.runSlices(ctx, slices, newPager)
	if err != nil {
		return n, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf(mismatch, n, want)
	}
	return n, nil
}

func (d *docExport) runSlice(ctx context.Context, slice int, pg slicePager) (int64, error) {
	defer pg.close(context.WithoutCancel(ctx))
	chunk, err := d.aw.buffer(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	seq := 0
	for {
		hits, err := pg.next(ctx, chunk)
		if err != nil {
			d.aw.release(chunk)
			return n, err
		}
		n += int64(hits)
		d.x.docs.Add(int64(hits))
		if hits == 0 || chunk.Len() >= d.aw.chunkSize {
			if chunk.Len() > 0 {
				if err := d.aw.put(ctx, docChunkName(d.index, slice, seq), chunk); err != nil {
					return n, err
				}
				seq++
				if hits != 0 {
					if chunk, err = d.aw.buffer(ctx); err != nil {
						return n, err
					}
				}
			} else if hits == 0 {
				d.aw.release(chunk)
			}
		}
		if hits == 0 {
			return n, nil
		}
	}
}
