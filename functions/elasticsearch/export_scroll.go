package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// viaScroll checks with a probe that the server keeps scroll contexts and
// counts the documents, then scrolls every slice.
func (d *docExport) viaScroll(ctx context.Context) (int64, error) {
	p := "/" + pathEscape(d.index) + "/_search"
	var buf bytes.Buffer
	probe := map[string]any{"size": 1, "sort": []any{"_doc"}, "track_total_hits": true}
	if err := d.post(ctx, p, url.Values{"scroll": {"1m"}}, probe, &buf); err != nil {
		return 0, unsupported(err)
	}
	pg, err := parsePage(buf.Bytes(), &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if pg.scrollID == "" {
		return 0, fmt.Errorf("%w: a search with ?scroll= answered no _scroll_id", errUnsupported)
	}
	clearScroll(ctx, d.x, pg.scrollID)
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	return d.runCounted(ctx, d.slices, pg.total, "exported %d documents but the scroll counted %d", func(slice int) slicePager {
		return &scrollPager{d: d, slice: slice}
	})
}

type scrollPager struct {
	d     *docExport
	slice int
	id    string
	buf   bytes.Buffer
	done  bool
}

func (s *scrollPager) next(ctx context.Context, out *bytes.Buffer) (int, error) {
	if s.done {
		return 0, nil
	}
	var err error
	if s.id == "" {
		req := map[string]any{"size": s.d.x.o.pageSize, "sort": []any{"_doc"}}
		if s.d.slices > 1 {
			req["slice"] = map[string]any{"id": s.slice, "max": s.d.slices}
		}
		err = s.d.post(ctx, "/"+pathEscape(s.d.index)+"/_search", url.Values{"scroll": {keepAlive}}, req, &s.buf)
	} else {
		err = s.d.post(ctx, "/_search/scroll", nil, map[string]any{"scroll": keepAlive, "scroll_id": s.id}, &s.buf)
	}
	if err != nil {
		return 0, err
	}
	pg, err := readPage(s.buf.Bytes(), out, nil)
	if pg.scrollID != "" {
		s.id = pg.scrollID
	}
	if err != nil {
		return 0, err
	}
	if s.id == "" {
		return 0, errors.New("the scroll answered no _scroll_id")
	}
	if pg.hits == 0 {
		s.done = true
	}
	return pg.hits, nil
}

func (s *scrollPager) close(ctx context.Context) {
	if s.id != "" {
		clearScroll(ctx, s.d.x, s.id)
	}
}

func clearScroll(ctx context.Context, x *exporter, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"scroll_id": []string{id}})
	if err := x.c.getJSON(cctx, http.MethodDelete, "/_search/scroll", nil, body, nil); err != nil {
		x.log.Warn("could not clear a scroll (it expires by itself)", "err", err.Error())
	}
}
