package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// A small JSON scanner for the two hot paths: search responses (every hit's
// _id, _routing, _source and sort, copied out as raw bytes, never decoded)
// and archive lines on restore. It finds value boundaries and does not
// validate numbers or literals; Elasticsearch produced the bytes and the
// restore side has the server validate each document again.

var errSyntax = errors.New("malformed JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
// It jumps from quote to quote (bytes.IndexByte is vectorised) and counts
// the backslashes before each to tell escaped quotes.
func skipString(b []byte, i int) (int, error) {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return 0, errSyntax
		}
		q := i + j
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		i = q + 1
	}
}

// skipValue returns the index after the value starting at b[i] (no
// leading space).
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				var err error
				if i, err = skipString(b, i); err != nil {
					return 0, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errSyntax
	default:
		// number, true, false, null
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			j++
		}
		if j == i {
			return 0, errSyntax
		}
		return j, nil
	}
}

// walkObject calls fn for the members of the object at b[i] ('{'); key is
// the raw key without quotes (escapes left as they are) and v the index
// where the value starts. fn returns the index after the value when it
// read the value itself, or -1 to have it skipped. walkObject returns the
// index after the object. Each byte is looked at once, however deep the
// callbacks descend.
func walkObject(b []byte, i int, fn func(key []byte, v int) (int, error)) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		end, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		v := skipSpace(b, i+1)
		vend, err := fn(key, v)
		if err != nil {
			return 0, err
		}
		if vend < 0 {
			if vend, err = skipValue(b, v); err != nil {
				return 0, err
			}
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return 0, errSyntax
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// walkArray calls fn for the elements of the array at b[i] ('['), as
// walkObject does for members.
func walkArray(b []byte, i int, fn func(v int) (int, error)) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		vend, err := fn(i)
		if err != nil {
			return 0, err
		}
		if vend < 0 {
			if vend, err = skipValue(b, i); err != nil {
				return 0, err
			}
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return 0, errSyntax
		}
		if b[i] == ']' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// eachField calls fn(key, value) for the members of the object at b[i],
// value being the raw bytes of each.
func eachField(b []byte, i int, fn func(key, val []byte) error) (int, error) {
	return walkObject(b, i, func(key []byte, v int) (int, error) {
		end, err := skipValue(b, v)
		if err != nil {
			return 0, err
		}
		return end, fn(key, b[v:end])
	})
}

// rawValue returns the value at b[v] and the index after it.
func rawValue(b []byte, v int) ([]byte, int, error) {
	end, err := skipValue(b, v)
	if err != nil {
		return nil, 0, err
	}
	return b[v:end], end, nil
}

// page is what one search response says beyond its hits.
type page struct {
	pitID    string
	scrollID string
	total    int64 // -1: not reported
	hits     int
	lastSort []byte // raw sort array of the last hit
	lastID   []byte // raw _id of the last hit
	timedOut bool
	failed   int
	failure  string
}

// parsePage reads a search response and appends one archive line per hit to
// out: {"_id":…[,"_routing":…],"_source":…}. seen, when not nil, receives
// every raw _id and must report whether it was new.
func parsePage(body []byte, out *bytes.Buffer, seen func(id []byte) bool) (page, error) {
	p := page{total: -1}
	_, err := walkObject(body, 0, func(key []byte, v int) (int, error) {
		switch string(key) {
		case "pit_id", "_scroll_id", "timed_out", "_shards":
			val, end, err := rawValue(body, v)
			if err != nil {
				return 0, err
			}
			switch string(key) {
			case "pit_id":
				err = json.Unmarshal(val, &p.pitID)
			case "_scroll_id":
				err = json.Unmarshal(val, &p.scrollID)
			case "timed_out":
				p.timedOut = string(val) == "true"
			case "_shards":
				p.failed, p.failure = shardFailures(val)
			}
			return end, err
		case "hits":
			return walkObject(body, v, func(k []byte, v int) (int, error) {
				switch string(k) {
				case "total":
					val, end, err := rawValue(body, v)
					p.total = parseTotal(val)
					return end, err
				case "hits":
					return walkArray(body, v, func(h int) (int, error) {
						return appendHit(body, h, out, &p, seen)
					})
				}
				return -1, nil
			})
		}
		return -1, nil
	})
	if err != nil {
		return p, fmt.Errorf("cannot parse the search response: %w", err)
	}
	return p, nil
}

// shardFailures reads _shards: the number of failed shards and the first
// failure's reason.
func shardFailures(val []byte) (int, string) {
	var sh struct {
		Failed   int `json:"failed"`
		Failures []struct {
			Reason struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"reason"`
		} `json:"failures"`
	}
	if json.Unmarshal(val, &sh) != nil {
		return 0, ""
	}
	if len(sh.Failures) > 0 {
		return sh.Failed, sh.Failures[0].Reason.Type + ": " + sh.Failures[0].Reason.Reason
	}
	return sh.Failed, ""
}

// parseTotal reads hits.total: {"value":N,"relation":…} or N (7.x with
// rest_total_hits_as_int, and servers that answer so).
func parseTotal(v []byte) int64 {
	if len(v) > 0 && v[0] == '{' {
		var t struct {
			Value int64 `json:"value"`
		}
		if json.Unmarshal(v, &t) == nil {
			return t.Value
		}
		return -1
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// appendHit reads the hit at body[h] and appends its archive line; it
// returns the index after the hit.
func appendHit(body []byte, h int, out *bytes.Buffer, p *page, seen func([]byte) bool) (int, error) {
	var id, routing, source, sortv []byte
	end, err := walkObject(body, h, func(k []byte, v int) (int, error) {
		var dst *[]byte
		switch string(k) {
		case "_id":
			dst = &id
		case "_routing":
			dst = &routing
		case "_source":
			dst = &source
		case "sort":
			dst = &sortv
		default:
			return -1, nil
		}
		val, end, err := rawValue(body, v)
		*dst = val
		return end, err
	})
	if err != nil {
		return 0, err
	}
	if len(id) == 0 || id[0] != '"' {
		return 0, errors.New("a hit has no _id")
	}
	if source == nil {
		return 0, fmt.Errorf("hit %s has no _source (is _source disabled in the mapping? such an index cannot be exported)", id)
	}
	if seen != nil && !seen(id) {
		return 0, fmt.Errorf("document %s was returned twice: the server's paging is not stable", id)
	}
	out.Grow(len(id) + len(routing) + len(source) + 32)
	out.WriteString(`{"_id":`)
	out.Write(id)
	if len(routing) > 0 && routing[0] == '"' {
		out.WriteString(`,"_routing":`)
		out.Write(routing)
	}
	out.WriteString(`,"_source":`)
	out.Write(source)
	out.WriteString("}\n")
	p.hits++
	p.lastSort, p.lastID = sortv, id
	return end, nil
}

// docLine is one archive line, its parts raw.
type docLine struct {
	id      []byte // raw JSON string
	routing []byte // raw JSON string or nil
	source  []byte // raw JSON object
}

// parseLine splits an archive line.
func parseLine(line []byte) (docLine, error) {
	var d docLine
	_, err := eachField(line, 0, func(k, v []byte) error {
		switch string(k) {
		case "_id":
			d.id = v
		case "_routing":
			d.routing = v
		case "_source":
			d.source = v
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	if len(d.id) < 2 || d.id[0] != '"' {
		return d, errors.New("no _id")
	}
	if len(d.source) == 0 || d.source[0] != '{' {
		return d, errors.New("no _source object")
	}
	return d, nil
}

// unquote returns the string value of a raw JSON string.
func unquote(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
