package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// viaPIT opens a point in time on the index, checks with one probe that
// the server sorts on _shard_doc and counts the documents, then pages every
// slice with search_after.
func (d *docExport) viaPIT(ctx context.Context) (int64, error) {
	var open struct {
		ID string `json:"id"`
	}
	p := "/" + pathEscape(d.index) + "/_pit"
	if err := d.x.c.getJSON(ctx, http.MethodPost, p, url.Values{"keep_alive": {keepAlive}}, nil, &open); err != nil {
		return 0, unsupported(err)
	}
	if open.ID == "" {
		return 0, fmt.Errorf("%w: POST %s answered no id", errUnsupported, p)
	}
	var (
		mu     sync.Mutex
		latest = open.ID
	)
	defer func() {
		mu.Lock()
		id := latest
		mu.Unlock()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]string{"id": id})
		if err := d.x.c.getJSON(cctx, http.MethodDelete, "/_pit", nil, body, nil); err != nil {
			d.x.log.Warn("could not close the point in time (it expires by itself)", "index", d.index, "err", err.Error())
		}
	}()
	// Probe: sorted on _shard_doc, exact total.
	var buf bytes.Buffer
	probe := map[string]any{"size": 0, "pit": map[string]any{"id": open.ID, "keep_alive": keepAlive},
		"sort": []any{map[string]any{"_shard_doc": "asc"}}, "track_total_hits": true}
	if err := d.post(ctx, "/_search", nil, probe, &buf); err != nil {
		if ae, ok := asAPIError(err); ok && ae.Status == http.StatusBadRequest && strings.Contains(ae.Reason, "_shard_doc") {
			return 0, fmt.Errorf("%w: %w", errUnsupported, err)
		}
		return 0, unsupported(err)
	}
	pg, err := readPage(buf.Bytes(), &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if pg.pitID != "" {
		latest = pg.pitID
	}
	return d.runCounted(ctx, d.slices, pg.total, "exported %d documents but the point in time holds %d", func(slice int) slicePager {
		mu.Lock()
		pit := latest
		mu.Unlock()
		return &pitPager{d: d, slice: slice, pit: pit, size: d.x.o.pageSize, setLatest: func(id string) {
			mu.Lock()
			latest = id
			mu.Unlock()
		}}
	})
}

type pitPager struct {
	d         *docExport
	slice     int
	pit       string
	size      int
	after     []byte
	buf       bytes.Buffer
	done      bool
	setLatest func(string)
}

func (p *pitPager) next(ctx context.Context, out *bytes.Buffer) (int, error) {
	if p.done {
		return 0, nil
	}
	req := map[string]any{
		"size":             p.size,
		"pit":              map[string]any{"id": p.pit, "keep_alive": keepAlive},
		"sort":             []any{map[string]any{"_shard_doc": "asc"}},
		"track_total_hits": false,
	}
	if p.d.slices > 1 {
		req["slice"] = map[string]any{"id": p.slice, "max": p.d.slices}
	}
	if p.after != nil {
		req["search_after"] = json.RawMessage(p.after)
	}
	if err := p.d.post(ctx, "/_search", nil, req, &p.buf); err != nil {
		return 0, err
	}
	pg, err := readPage(p.buf.Bytes(), out, nil)
	if err != nil {
		return 0, err
	}
	if pg.pitID != "" && pg.pitID != p.pit {
		p.pit = pg.pitID
		p.setLatest(pg.pitID)
	}
	if pg.hits > 0 {
		if len(pg.lastSort) == 0 {
			return 0, errors.New("search_after paging: the hits carry no sort values")
		}
		p.after = append(p.after[:0], pg.lastSort...)
	}
	if pg.hits < p.size {
		p.done = true
	}
	// Large documents: fewer per page, to bound memory.
	if l := p.buf.Len(); l > targetPageBytes && p.size > 10 {
		p.size = max(10, int(int64(p.size)*targetPageBytes/int64(l)))
	}
	return pg.hits, nil
}

func (p *pitPager) close(context.Context) {}
