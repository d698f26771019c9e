package estest

// ctxShard is one shard's documents as a search sees them.
type ctxShard struct {
	index     string
	docs      []*doc
	maxWindow int
}

// position is a shard ordinal and a document position in it.
type position struct{ ord, pos int }

// shardDoc is the _shard_doc sort value of a position.
func (p position) shardDoc() int64 { return int64(p.ord)<<32 | int64(p.pos) }

func positionOf(v int64) position { return position{ord: int(v >> 32), pos: int(v & 0xffffffff)} }

// sliceFilter says which positions of which shards a slice holds.
type sliceFilter struct {
	id, max, shards int
}

// shard reports whether shard ord belongs to the slice, and which
// sub-slice of its documents (every n-th from off).
func (f sliceFilter) shard(ord int) (ok bool, n, off int) {
	if f.max <= 1 {
		return true, 1, 0
	}
	if f.max <= f.shards {
		return ord%f.max == f.id, 1, 0
	}
	// More slices than shards: slice id targets shard id % shards, whose
	// documents are split among the slices that target it.
	target := f.id % f.shards
	if ord != target {
		return false, 0, 0
	}
	n = f.max / f.shards
	if f.max%f.shards > target {
		n++
	}
	return true, n, f.id / f.shards
}

// collect gathers up to size live documents from start on, in order, and
// returns them with the position after the last one (asc) or before it
// (desc).
func collect(shards []ctxShard, f sliceFilter, start position, desc bool, skip, size int) ([]position, position) {
	var out []position
	if desc {
		for ord := start.ord; ord >= 0 && len(out) < size; ord-- {
			ok, n, off := f.shard(ord)
			if !ok {
				continue
			}
			docs := shards[ord].docs
			pos := len(docs) - 1
			if ord == start.ord && start.pos < pos {
				pos = start.pos
			}
			for ; pos >= 0 && len(out) < size; pos-- {
				if pos%n != off || docs[pos] == nil {
					continue
				}
				if skip > 0 {
					skip--
					continue
				}
				out = append(out, position{ord, pos})
			}
		}
		return out, position{}
	}
	last := position{ord: len(shards)}
	for ord := start.ord; ord < len(shards); ord++ {
		ok, n, off := f.shard(ord)
		if !ok {
			continue
		}
		docs := shards[ord].docs
		pos := 0
		if ord == start.ord {
			pos = start.pos
		}
		if r := pos % n; r != off {
			pos += (off - r + n) % n
		}
		for ; pos < len(docs); pos += n {
			if docs[pos] == nil {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) == size {
				return out, position{ord, pos}
			}
			out = append(out, position{ord, pos})
		}
	}
	return out, last
}

// countLive counts the slice's live documents, stopping above limit (>0).
func countLive(shards []ctxShard, f sliceFilter, limit int) int {
	total := 0
	for ord := range shards {
		ok, n, off := f.shard(ord)
		if !ok {
			continue
		}
		if n == 1 {
			for _, d := range shards[ord].docs {
				if d != nil {
					total++
				}
			}
		} else {
			for pos := off; pos < len(shards[ord].docs); pos += n {
				if shards[ord].docs[pos] != nil {
					total++
				}
			}
		}
		if limit > 0 && total > limit {
			return total
		}
	}
	return total
}

func startOf(shards []ctxShard, sp *searchSpec) position {
	if sp.searchAfter != nil && *sp.searchAfter < 0 {
		if sp.desc {
			return position{ord: -1}
		}
		return position{}
	}
	if sp.searchAfter != nil {
		p := positionOf(*sp.searchAfter)
		if sp.desc {
			p.pos--
			if p.pos < 0 {
				p.ord--
				p.pos = 1<<31 - 1
			}
			return p
		}
		p.pos++
		return p
	}
	if sp.desc {
		return position{ord: len(shards) - 1, pos: 1<<31 - 1}
	}
	return position{}
}

func minWindow(shards []ctxShard) int {
	m := 10000
	for i, sh := range shards {
		if i == 0 || sh.maxWindow < m {
			m = sh.maxWindow
		}
	}
	return m
}

// snapshotLocked copies the visible documents of indices; s.mu must be held.
func snapshotLocked(ixs []*index, copyDocs bool) []ctxShard {
	var out []ctxShard
	for _, ix := range ixs {
		for _, sh := range ix.shards {
			docs := sh.docs[:sh.visible]
			if copyDocs {
				docs = append([]*doc(nil), docs...)
			}
			out = append(out, ctxShard{index: ix.name, docs: docs, maxWindow: ix.maxResultWindow()})
		}
	}
	return out
}
