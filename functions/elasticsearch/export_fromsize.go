package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
)

// viaFromSize pages with from/size, for servers with neither point in time
// nor scroll; an index with more documents than its result window cannot
// be exported this way.
func (d *docExport) viaFromSize(ctx context.Context) (int64, error) {
	p := "/" + pathEscape(d.index) + "/_search"
	var buf bytes.Buffer
	if err := d.post(ctx, p, nil, map[string]any{"size": 0, "track_total_hits": true}, &buf); err != nil {
		return 0, err
	}
	pg, err := readPage(buf.Bytes(), &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	total := pg.total
	if total < 0 {
		return 0, errors.New("the server reports no hits.total: cannot page with from/size")
	}
	if total > int64(d.window) {
		return 0, fmt.Errorf("holds %d documents, more than its result window (index.max_result_window = %d), and the server supports neither point in time nor scroll: it cannot be exported in full", total, d.window)
	}
	seen := make(map[string]struct{}, total)
	fp := &fromSizePager{d: d, path: p, total: total, size: min(d.x.o.pageSize, d.window), seen: func(id []byte) bool {
		if _, dup := seen[string(id)]; dup {
			return false
		}
		seen[string(id)] = struct{}{}
		return true
	}}
	return d.runCounted(ctx, 1, total, "exported %d documents but the index counted %d (did it change during the backup?)", func(int) slicePager { return fp })
}

type fromSizePager struct {
	d     *docExport
	path  string
	total int64
	from  int64
	size  int
	sort  []any
	byDoc bool
	buf   bytes.Buffer
	seen  func([]byte) bool
}

func (f *fromSizePager) next(ctx context.Context, out *bytes.Buffer) (int, error) {
	if f.from >= f.total {
		return 0, nil
	}
	size := int(min(int64(f.size), int64(f.d.window)-f.from))
	if f.sort == nil {
		// A total order makes from/size pages stable: _id where the server
		// sorts on it (Elasticsearch 8 refuses), else index order.
		f.sort = []any{map[string]any{"_id": "asc"}}
	}
	req := map[string]any{"from": f.from, "size": size, "sort": f.sort, "track_total_hits": false}
	err := f.d.post(ctx, f.path, nil, req, &f.buf)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusBadRequest && f.from == 0 && !f.byDoc {
		f.sort, f.byDoc = []any{"_doc"}, true
		req["sort"] = f.sort
		err = f.d.post(ctx, f.path, nil, req, &f.buf)
	}
	if err != nil {
		return 0, err
	}
	pg, err := readPage(f.buf.Bytes(), out, f.seen)
	if err != nil {
		return 0, err
	}
	f.from += int64(pg.hits)
	if pg.hits == 0 && f.from < f.total {
		return 0, fmt.Errorf("the index counted %d documents but paging ended after %d", f.total, f.from)
	}
	return pg.hits, nil
}

func (f *fromSizePager) close(context.Context) {}
