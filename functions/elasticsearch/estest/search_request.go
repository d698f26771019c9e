package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// searchSpec is a parsed search request.
type searchSpec struct {
	from, size     int
	sortField      string // "" (score), "_doc" or "_shard_doc"
	desc           bool
	searchAfter    *int64
	sliceID        int
	sliceMax       int
	trackTotal     int // -1: exact; 0: not tracked; n: up to n
	totalAsInt     bool
	noSource       bool
	pitID          string
	pitKeepAlive   string
	explicitSortOn bool
}

type searchBody struct {
	Size           *int              `json:"size"`
	From           *int              `json:"from"`
	Query          json.RawMessage   `json:"query"`
	Sort           json.RawMessage   `json:"sort"`
	SearchAfter    []json.RawMessage `json:"search_after"`
	TrackTotalHits json.RawMessage   `json:"track_total_hits"`
	Source         json.RawMessage   `json:"_source"`
	Version        *bool             `json:"version"`
	SeqNoPrimTerm  *bool             `json:"seq_no_primary_term"`
	Timeout        string            `json:"timeout"`
	StoredFields   json.RawMessage   `json:"stored_fields"`
	DocvalueFields json.RawMessage   `json:"docvalue_fields"`
	Explain        *bool             `json:"explain"`
	PIT            *struct {
		ID        string `json:"id"`
		KeepAlive string `json:"keep_alive"`
	} `json:"pit"`
	Slice *struct {
		ID    *int   `json:"id"`
		Max   *int   `json:"max"`
		Field string `json:"field"`
	} `json:"slice"`
}

// specError is a request the test server refuses; status 400 unless set.
type specError struct {
	status int
	typ    string
	reason string
}

func (e *specError) Error() string { return e.reason }

func (e *specError) write(w http.ResponseWriter) {
	status := e.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeError(w, status, e.typ, e.reason, nil)
}

func parseSearch(r *http.Request, body []byte) (*searchSpec, *specError) {
	q := r.URL.Query()
	sp := &searchSpec{size: 10, trackTotal: 10000, sliceMax: 1}
	var sb searchBody
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sb); err != nil {
			msg := err.Error()
			if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
				return nil, &specError{typ: "parsing_exception", reason: "Unknown key for a START_OBJECT in [" + strings.Trim(f, `"`) + "]."}
			}
			return nil, &specError{typ: "x_content_parse_exception", reason: "[1:1] [search] failed to parse: " + msg}
		}
	}
	params := []struct {
		name string
		body *int
		dst  *int
	}{{"size", sb.Size, &sp.size}, {"from", sb.From, &sp.from}}
	for _, p := range params {
		if err := intParam(p.body, q, p.name, p.dst); err != nil {
			return nil, err
		}
	}
	for _, p := range params {
		if *p.dst < 0 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "[" + p.name + "] parameter cannot be negative, found [" + strconv.Itoa(*p.dst) + "]"}
		}
	}
	if err := checkQuery(sb.Query); err != nil {
		return nil, err
	}
	sorts, err := parseSort(sb.Sort, q.Get("sort"))
	if err != nil {
		return nil, err
	}
	if len(sorts) > 0 {
		sp.explicitSortOn = true
		sp.sortField, sp.desc = sorts[0].field, sorts[0].desc
	}
	if len(sb.SearchAfter) > 0 {
		if len(sorts) == 0 && sb.PIT == nil {
			return nil, &specError{typ: "action_request_validation_exception", reason: "Validation Failed: 1: [search_after] cannot be used without [sort];"}
		}
		var v int64
		if err := json.Unmarshal(sb.SearchAfter[len(sb.SearchAfter)-1], &v); err != nil {
			return nil, &specError{typ: "illegal_argument_exception", reason: "Failed to parse search_after value for field [_shard_doc]."}
		}
		sp.searchAfter = &v
		if sp.from != 0 {
			return nil, &specError{typ: "action_request_validation_exception", reason: "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;"}
		}
	}
	switch t := strings.TrimSpace(string(sb.TrackTotalHits)); t {
	case "":
		if v := q.Get("track_total_hits"); v == "true" {
			sp.trackTotal = -1
		} else if v == "false" {
			sp.trackTotal = 0
		}
	case "true":
		sp.trackTotal = -1
	case "false":
		sp.trackTotal = 0
	default:
		n, err := strconv.Atoi(t)
		if err != nil {
			return nil, &specError{typ: "x_content_parse_exception", reason: "[track_total_hits] must be a boolean or an integer"}
		}
		sp.trackTotal = n
	}
	sp.totalAsInt = q.Get("rest_total_hits_as_int") == "true"
	if sp.totalAsInt && sp.trackTotal > 0 {
		sp.trackTotal = -1
	}
	sp.noSource = strings.TrimSpace(string(sb.Source)) == "false" || q.Get("_source") == "false"
	if sb.PIT != nil {
		sp.pitID, sp.pitKeepAlive = sb.PIT.ID, sb.PIT.KeepAlive
		if sp.pitID == "" {
			return nil, &specError{typ: "action_request_validation_exception", reason: "Validation Failed: 1: [pit] id must be specified;"}
		}
	}
	if sb.Slice != nil {
		if sb.Slice.Field != "" && sb.Slice.Field != "_id" && sb.Slice.Field != "_shard_doc" {
			return nil, &specError{typ: "illegal_argument_exception", reason: "test server: slicing on field [" + sb.Slice.Field + "] is not supported"}
		}
		if sb.Slice.ID == nil || sb.Slice.Max == nil {
			return nil, &specError{typ: "x_content_parse_exception", reason: "[slice] requires [id] and [max]"}
		}
		if *sb.Slice.Max <= 1 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "max must be greater than 1"}
		}
		if *sb.Slice.ID < 0 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "id must be greater than or equal to 0"}
		}
		if *sb.Slice.ID >= *sb.Slice.Max {
			return nil, &specError{typ: "illegal_argument_exception", reason: "max must be greater than id"}
		}
		if *sb.Slice.Max > 1024 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "The number of slices [" + strconv.Itoa(*sb.Slice.Max) + "] is too large. It must be less than [1024]. This limit can be set by changing the [index.max_slices_per_scroll] index level setting."}
		}
		sp.sliceID, sp.sliceMax = *sb.Slice.ID, *sb.Slice.Max
	}
	return sp, nil
}

// intParam sets *dst from the body's value, else from the query parameter
// name; it leaves *dst alone when neither is given.
func intParam(body *int, q url.Values, name string, dst *int) *specError {
	if body != nil {
		*dst = *body
		return nil
	}
	v := q.Get(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return &specError{typ: "illegal_argument_exception", reason: "Failed to parse int parameter [" + name + "] with value [" + v + "]"}
	}
	*dst = n
	return nil
}

// checkQuery accepts no query or match_all.
func checkQuery(q json.RawMessage) *specError {
	t := bytes.TrimSpace(q)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return &specError{typ: "parsing_exception", reason: "[_na] query malformed, must start with start_object"}
	}
	for k := range m {
		if k != "match_all" {
			return &specError{typ: "parsing_exception", reason: "test server: query [" + k + "] is not supported (match_all only)"}
		}
	}
	return nil
}

type sortKey struct {
	field string
	desc  bool
}

// parseSort reads the sort clauses the test server supports: _shard_doc,
// _doc and _score; _id is refused as Elasticsearch 8 refuses it.
func parseSort(raw json.RawMessage, param string) ([]sortKey, *specError) {
	var items []json.RawMessage
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 && param != "":
		for _, p := range strings.Split(param, ",") {
			b, _ := json.Marshal(p)
			items = append(items, b)
		}
	case len(t) == 0:
		return nil, nil
	case t[0] == '[':
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, &specError{typ: "parsing_exception", reason: "malformed sort format"}
		}
	default:
		items = []json.RawMessage{t}
	}
	var keys []sortKey
	for _, it := range items {
		var k sortKey
		var name string
		if json.Unmarshal(it, &name) == nil {
			f, order, _ := strings.Cut(name, ":")
			k = sortKey{field: f, desc: order == "desc"}
		} else {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(it, &m); err != nil || len(m) != 1 {
				return nil, &specError{typ: "parsing_exception", reason: "malformed sort format"}
			}
			for f, v := range m {
				k.field = f
				var order string
				if json.Unmarshal(v, &order) != nil {
					var o struct {
						Order string `json:"order"`
					}
					_ = json.Unmarshal(v, &o)
					order = o.Order
				}
				k.desc = order == "desc"
			}
		}
		switch k.field {
		case "_shard_doc", "_doc":
		case "_score":
			k.desc = !k.desc // _score sorts descending by default
			k.field = ""
		case "_id":
			return nil, &specError{typ: "illegal_argument_exception", reason: "Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled"}
		default:
			return nil, &specError{typ: "illegal_argument_exception", reason: "test server: sorting on [" + k.field + "] is not supported"}
		}
		keys = append(keys, k)
	}
	return keys, nil
}
