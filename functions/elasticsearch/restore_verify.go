package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// complete waits for the bulk indexer, applies the settings held back
// during the load, refreshes and checks every index's document count.
func (rs *restorer) complete(ctx context.Context) error {
	if err := rs.ld.finish(ctx); err != nil {
		return err
	}
	timeout := rs.r.verifyTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	var problems []string
	for _, name := range rs.order {
		st := rs.state[name]
		if st.skip {
			continue
		}
		if len(st.after) > 0 {
			body, _ := json.Marshal(nest(st.after))
			if err := rs.c.getJSON(ctx, http.MethodPut, "/"+pathEscape(st.target)+"/_settings", nil, body, nil); err != nil {
				return fmt.Errorf("index %s: restoring its refresh interval and blocks: %w", st.target, err)
			}
		}
		if err := rs.addAliases(ctx, st); err != nil {
			return err
		}
		if !rs.r.noRefresh {
			if err := rs.c.getJSON(ctx, http.MethodPost, "/"+pathEscape(st.target)+"/_refresh", nil, nil, nil); err != nil {
				return fmt.Errorf("index %s: refresh: %w", st.target, err)
			}
		}
		got, err := rs.waitCount(ctx, st.target, st.docs, timeout)
		if err != nil {
			return fmt.Errorf("index %s: counting documents: %w", st.target, err)
		}
		if got != st.docs {
			problems = append(problems, fmt.Sprintf("index %s holds %d documents, the archive %d", st.target, got, st.docs))
			continue
		}
		rs.restored++
		rs.documents += st.docs
		rs.log.Info("index restored", "index", st.target, "documents", got)
	}
	if len(problems) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// waitCount counts an index's documents until the count reaches want or
// the timeout passes (for servers whose refresh is asynchronous).
func (rs *restorer) waitCount(ctx context.Context, index string, want int64, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		got, err := rs.count(ctx, index)
		if err != nil || got == want || time.Now().After(deadline) {
			return got, err
		}
		wait := min(backoff(attempt, 100*time.Millisecond, 2*time.Second), time.Until(deadline))
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(max(wait, 10*time.Millisecond)):
		}
	}
}

// count uses _count, or a search's hits.total where _count is missing.
func (rs *restorer) count(ctx context.Context, index string) (int64, error) {
	var c struct {
		Count *int64 `json:"count"`
	}
	p := "/" + pathEscape(index)
	err := rs.c.getJSON(ctx, http.MethodGet, p+"/_count", nil, nil, &c)
	if err == nil && c.Count != nil {
		return *c.Count, nil
	}
	if ae, ok := asAPIError(err); err != nil && (!ok || !ae.missingAPI()) {
		return 0, err
	}
	res, err := rs.c.do(ctx, http.MethodPost, p+"/_search", url.Values{"size": {"0"}}, []byte(`{"size":0,"track_total_hits":true}`))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	pg, err := parsePage(b, &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if pg.total < 0 {
		return 0, errors.New("the server reports neither _count nor hits.total")
	}
	return pg.total, nil
}
