package estest

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"
)

// index is one index: settings (flat, "index."-prefixed, values as
// Elasticsearch returns them: strings or lists of strings), mappings as
// given, aliases and shards of documents.
type index struct {
	name     string
	uuid     string
	settings map[string]any
	mappings json.RawMessage
	aliases  map[string]json.RawMessage
	shards   []*shard
}

// shard holds documents in insertion order; a deleted document leaves a nil.
// Documents at positions below visible have been refreshed.
type shard struct {
	docs    []*doc
	ids     map[string]int
	live    int
	visible int
	// visibleLive counts live documents below visible.
	visibleLive int
}

// doc is a stored document; head is the start of its search hit,
// `{"_index":"name","_id":"id"` (plus "_routing"), rendered once.
type doc struct {
	id      string
	routing string
	head    []byte
	source  []byte
}

// dataStream is a data stream and its backing indices.
type dataStream struct {
	name    string
	indices []string
}

func (ix *index) hidden() bool {
	return ix.settings["index.hidden"] == "true"
}

func (ix *index) setting(key, def string) string {
	if v, ok := ix.settings[key].(string); ok {
		return v
	}
	return def
}

func (ix *index) intSetting(key string, def int) int {
	if n, err := strconv.Atoi(ix.setting(key, "")); err == nil {
		return n
	}
	return def
}

func (ix *index) autoRefresh() bool { return ix.setting("index.refresh_interval", "1s") != "-1" }

func (ix *index) maxResultWindow() int { return ix.intSetting("index.max_result_window", 10000) }

// writeBlock returns the block that forbids writes, or "".
func (ix *index) writeBlock() string {
	switch {
	case ix.settings["index.blocks.read_only"] == "true":
		return "FORBIDDEN/5/index read-only (api)"
	case ix.settings["index.blocks.write"] == "true":
		return "FORBIDDEN/8/index write (api)"
	}
	return ""
}

func (ix *index) docCount(visibleOnly bool) int {
	n := 0
	for _, sh := range ix.shards {
		if visibleOnly {
			n += sh.visibleLive
		} else {
			n += sh.live
		}
	}
	return n
}

func (ix *index) refresh() {
	for _, sh := range ix.shards {
		sh.visible = len(sh.docs)
		sh.visibleLive = sh.live
	}
}

func (ix *index) shardFor(id, routing string) *shard {
	key := id
	if routing != "" {
		key = routing
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return ix.shards[int(h.Sum32()%uint32(len(ix.shards)))]
}

// put stores a document; it reports whether it was created (not updated).
func (ix *index) put(id, routing string, source []byte) bool {
	sh := ix.shardFor(id, routing)
	d := &doc{id: id, routing: routing, source: source}
	head := make([]byte, 0, 24+len(ix.name)+len(id)+len(routing))
	head = append(head, `{"_index":`...)
	head = appendString(head, ix.name)
	head = append(head, `,"_id":`...)
	head = appendString(head, id)
	if routing != "" {
		head = append(head, `,"_routing":`...)
		head = appendString(head, routing)
	}
	d.head = head
	if pos, ok := sh.ids[id]; ok {
		sh.docs[pos] = d
		return false
	}
	sh.ids[id] = len(sh.docs)
	sh.docs = append(sh.docs, d)
	sh.live++
	return true
}

// remove deletes a document; it reports whether it existed.
func (ix *index) remove(id, routing string) bool {
	sh := ix.shardFor(id, routing)
	pos, ok := sh.ids[id]
	if !ok {
		return false
	}
	delete(sh.ids, id)
	sh.docs[pos] = nil
	sh.live--
	if pos < sh.visible {
		sh.visibleLive--
	}
	return true
}

func writeString(b *bytes.Buffer, s string) {
	var tmp [128]byte
	b.Write(appendString(tmp[:0], s))
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, everything else as it is (UTF-8).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
