package elasticsearch

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// The archive is one tar stream, stored in restic as /elasticsearch.tar:
//
//	meta.json                              format, source cluster, index list
//	<index>/settings.json                  flat settings, cluster-managed ones removed
//	<index>/mappings.json                  the "mappings" object
//	<index>/aliases.json                   {"alias":{definition}, …}
//	<index>/documents-<slice>-<n>.ndjson   {"_id":…,"_source":…} per line (≤ chunkSize each)
//	…                                      (chunks of different slices interleave)
//	summary.json                           documents per index; written last, after every
//	                                       document: an archive without it is incomplete
//
// tar needs each entry's size before its data, so documents are cut into
// chunks of at most chunkSize bytes, each buffered whole; the number of
// buffers in flight is bounded, which bounds memory whatever the index size.
const (
	ArchiveFilename = "elasticsearch.tar"
	ArchivePath     = "/" + ArchiveFilename

	archiveFormat  = "stashflow.dev/elasticsearch-archive"
	archiveVersion = 1
	metaEntry      = "meta.json"
	summaryEntry   = "summary.json"

	settingsFile = "settings.json"
	mappingsFile = "mappings.json"
	aliasesFile  = "aliases.json"

	// defaultChunkSize is the size documents are cut at.
	defaultChunkSize = 4 << 20
)

// archiveMeta is meta.json.
type archiveMeta struct {
	Format  string     `json:"format"`
	Version int        `json:"version"`
	Created time.Time  `json:"created"`
	Source  sourceInfo `json:"source"`
	Indices []string   `json:"indices"`
	// DataStreamsNotBackedUp lists the data streams the patterns matched.
	DataStreamsNotBackedUp []string `json:"dataStreamsNotBackedUp,omitempty"`
}

type sourceInfo struct {
	Cluster      string `json:"cluster,omitempty"`
	UUID         string `json:"uuid,omitempty"`
	Version      string `json:"version,omitempty"`
	Distribution string `json:"distribution,omitempty"`
}

// archiveSummary is summary.json.
type archiveSummary struct {
	Complete  bool                    `json:"complete"`
	Documents int64                   `json:"documents"`
	Indices   map[string]indexSummary `json:"indices"`
}

type indexSummary struct {
	Documents int64  `json:"documents"`
	Method    string `json:"method"` // pit, scroll or from-size
	Slices    int    `json:"slices"`
}

func docChunkName(index string, slice, n int) string {
	return fmt.Sprintf("%s/documents-%03d-%06d.ndjson", index, slice, n)
}

// splitEntry returns the index and file of an entry name "<index>/<file>".
func splitEntry(name string) (index, file string, ok bool) {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 || i == len(name)-1 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

func isDocChunk(file string) bool {
	return strings.HasPrefix(file, "documents") && strings.HasSuffix(file, ".ndjson")
}

// countingWriter counts bytes written.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// archiveWriter writes tar entries from one goroutine while producers fill
// buffers; at most `buffers` buffers exist at any time.
type archiveWriter struct {
	cw        *countingWriter
	tw        *tar.Writer
	mtime     time.Time
	chunkSize int

	queue  chan entry
	tokens chan struct{}
	mu     sync.Mutex
	free   []*bytes.Buffer
	err    error
	done   chan struct{}
}

type entry struct {
	name string
	buf  *bytes.Buffer
}

func newArchiveWriter(w io.Writer, chunkSize, buffers int) *archiveWriter {
	cw := &countingWriter{w: w}
	a := &archiveWriter{
		cw:        cw,
		tw:        tar.NewWriter(cw),
		mtime:     time.Now().UTC().Truncate(time.Second),
		chunkSize: chunkSize,
		queue:     make(chan entry, buffers),
		tokens:    make(chan struct{}, buffers),
		done:      make(chan struct{}),
	}
	go a.run()
	return a
}

func (a *archiveWriter) run() {
	defer close(a.done)
	for e := range a.queue {
		if a.failed() == nil {
			hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(e.buf.Len()), ModTime: a.mtime}
			err := a.tw.WriteHeader(hdr)
			if err == nil {
				_, err = a.tw.Write(e.buf.Bytes())
			}
			if err != nil {
				a.mu.Lock()
				if a.err == nil {
					a.err = err
				}
				a.mu.Unlock()
			}
		}
		a.release(e.buf)
	}
}

func (a *archiveWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// buffer waits for a free buffer.
func (a *archiveWriter) buffer(ctx context.Context) (*bytes.Buffer, error) {
	select {
	case a.tokens <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free = a.free[:n-1]
		return b, nil
	}
	return bytes.NewBuffer(make([]byte, 0, a.chunkSize+a.chunkSize/8)), nil
}

// release returns a buffer to the pool.
func (a *archiveWriter) release(b *bytes.Buffer) {
	b.Reset()
	a.mu.Lock()
	if b.Cap() <= 2*a.chunkSize {
		a.free = append(a.free, b)
	}
	a.mu.Unlock()
	<-a.tokens
}

// put queues a buffer (from buffer) as an entry; the buffer goes back to
// the pool once written.
func (a *archiveWriter) put(ctx context.Context, name string, b *bytes.Buffer) error {
	if err := a.failed(); err != nil {
		a.release(b)
		return err
	}
	select {
	case a.queue <- entry{name: name, buf: b}:
		return nil
	case <-ctx.Done():
		a.release(b)
		return ctx.Err()
	}
}

// file queues a small entry.
func (a *archiveWriter) file(ctx context.Context, name string, data []byte) error {
	b, err := a.buffer(ctx)
	if err != nil {
		return err
	}
	b.Write(data)
	return a.put(ctx, name, b)
}

// finish waits for every queued entry; with ok it ends the tar stream
// (its two zero blocks), otherwise it leaves the stream unfinished.
func (a *archiveWriter) finish(ok bool) error {
	close(a.queue)
	<-a.done
	if err := a.failed(); err != nil {
		return err
	}
	if ok {
		return a.tw.Close()
	}
	return nil
}

// written returns the bytes written so far.
func (a *archiveWriter) written() int64 {
	<-a.done
	return a.cw.n
}
