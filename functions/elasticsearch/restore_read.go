package elasticsearch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// read parses the archive as it streams in and loads the documents.
func (rs *restorer) read(ctx context.Context, in io.Reader) error {
	tr := tar.NewReader(bufio.NewReaderSize(in, 1<<20))
	hdr, err := tr.Next()
	if err != nil {
		return corrupt("no first entry: %v", tarErr(err))
	}
	if hdr.Name != metaEntry {
		return fmt.Errorf("not an elasticsearch-backup archive: its first entry is %q, not %s", hdr.Name, metaEntry)
	}
	if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(&rs.meta); err != nil {
		return corrupt("%s: %v", metaEntry, err)
	}
	if rs.meta.Format != archiveFormat {
		return fmt.Errorf("not an elasticsearch-backup archive (format %q)", rs.meta.Format)
	}
	if rs.meta.Version > archiveVersion {
		return fmt.Errorf("the archive has format version %d; this stashflow reads up to %d", rs.meta.Version, archiveVersion)
	}
	if err := rs.plan(ctx); err != nil {
		return err
	}
	var (
		summary    *archiveSummary
		lines      = bufio.NewReaderSize(nil, 256<<10)
		slab       slab
		lastReport = time.Now()
	)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return corrupt("%v", tarErr(err))
		}
		if summary != nil {
			return corrupt("entry %s after %s", hdr.Name, summaryEntry)
		}
		if hdr.Name == summaryEntry {
			summary = &archiveSummary{}
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(summary); err != nil {
				return corrupt("%s: %v", summaryEntry, err)
			}
			continue
		}
		index, file, ok := splitEntry(hdr.Name)
		if !ok {
			rs.log.Warn("ignoring an unknown archive entry", "entry", hdr.Name)
			continue
		}
		st := rs.state[index]
		if st == nil {
			return corrupt("entry %s belongs to no index of %s", hdr.Name, metaEntry)
		}
		switch {
		case file == settingsFile:
			if err := json.NewDecoder(tr).Decode(&st.settings); err != nil {
				return corrupt("%s: %v", hdr.Name, err)
			}
		case file == mappingsFile:
			if st.mappings, err = readAll(tr, hdr.Name); err != nil {
				return err
			}
		case file == aliasesFile:
			if st.aliases, err = readAll(tr, hdr.Name); err != nil {
				return err
			}
		case isDocChunk(file):
			if err := rs.ensureCreated(ctx, st); err != nil {
				return err
			}
			if st.skip {
				continue // tar skips the data
			}
			lines.Reset(tr)
			if err := rs.loadChunk(ctx, st, hdr.Name, lines, &slab); err != nil {
				return err
			}
			if time.Since(lastReport) > 10*time.Second {
				lastReport = time.Now()
				rs.log.Info("restore progress", "documentsRead", rs.ld.added.Load())
			}
		default:
			rs.log.Warn("ignoring an unknown archive entry", "entry", hdr.Name)
		}
	}
	if summary == nil || !summary.Complete {
		return corrupt("it ends without %s (the backup did not finish)", summaryEntry)
	}
	for _, name := range rs.order {
		st := rs.state[name]
		is, ok := summary.Indices[name]
		if !ok {
			return corrupt("%s does not list index %s", summaryEntry, name)
		}
		st.summaryDocuments = is.Documents
		if !st.skip && st.docs != is.Documents {
			return corrupt("index %s: %d documents read, %s says %d", name, st.docs, summaryEntry, is.Documents)
		}
		if err := rs.ensureCreated(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func tarErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of the archive")
	}
	return err
}

func readAll(r io.Reader, name string) (json.RawMessage, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, corrupt("%s: %v", name, tarErr(err))
	}
	if !json.Valid(b) {
		return nil, corrupt("%s is not JSON", name)
	}
	return b, nil
}

// loadChunk reads the lines of one documents entry into the bulk indexer.
func (rs *restorer) loadChunk(ctx context.Context, st *restoreIndex, name string, lines *bufio.Reader, sl *slab) error {
	var long []byte
	lineNo := 0
	for {
		line, err := lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return corrupt("%s: %v", name, tarErr(err))
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 {
			lineNo++
			if line[len(line)-1] != '\n' {
				return corrupt("%s: line %d does not end with a newline", name, lineNo)
			}
			d, perr := parseLine(line)
			if perr != nil {
				return corrupt("%s: line %d: %v", name, lineNo, perr)
			}
			id, uerr := unquote(d.id)
			if uerr != nil {
				return corrupt("%s: line %d: _id: %v", name, lineNo, uerr)
			}
			routing := ""
			if d.routing != nil {
				if routing, uerr = unquote(d.routing); uerr != nil {
					return corrupt("%s: line %d: _routing: %v", name, lineNo, uerr)
				}
			}
			if err := rs.ld.add(ctx, st.target, id, routing, sl.copy(d.source)); err != nil {
				return err
			}
			st.docs++
		}
		if err != nil { // io.EOF
			return nil
		}
	}
}

// slab hands out copies of documents from 1 MiB blocks.
type slab struct{ buf []byte }

func (s *slab) copy(b []byte) []byte {
	if len(b) > 256<<10 {
		return bytes.Clone(b)
	}
	if cap(s.buf)-len(s.buf) < len(b) {
		s.buf = make([]byte, 0, 1<<20)
	}
	start := len(s.buf)
	s.buf = append(s.buf, b...)
	return s.buf[start:len(s.buf):len(s.buf)]
}
