package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Paging methods, best first.
const (
	methodPIT      = "pit"
	methodScroll   = "scroll"
	methodFromSize = "from-size"
)

// Export tuning.
const (
	// maxParallelSlices bounds the slices fetched at once (more slices run
	// one after another): each holds a response and a chunk in memory.
	maxParallelSlices = 8
	// keepAlive is how long a point in time or scroll lives between pages.
	keepAlive = "5m"
	// targetPageBytes: with a point in time the page size shrinks when
	// responses grow past this (large documents), to bound memory.
	targetPageBytes = 4 << 20
	// defaultMaxResultWindow is index.max_result_window's default.
	defaultMaxResultWindow = 10000
)

type exportOptions struct {
	include, exclude []string
	includeHidden    bool
	slices           int // 0: one per shard
	pageSize         int
	chunkSize        int
	parallel         int
}

// exporter writes indices as an archive.
type exporter struct {
	c      *conn
	o      exportOptions
	log    *slog.Logger
	stderr io.Writer

	// Learned from the server, once for all indices.
	noPIT, noScroll atomic.Bool
	docs            atomic.Int64
}

type exportResult struct {
	indices     []string
	dataStreams []string
	documents   int64
	bytes       int64
	perIndex    map[string]indexSummary
}

// errUnsupported says the server lacks a paging method.
var errUnsupported = errors.New("not supported by the server")

// run lists the indices and writes the archive to w. On error the archive
// is left unfinished (no end blocks, no summary).
func (x *exporter) run(ctx context.Context, w io.Writer) (exportResult, error) {
	var res exportResult
	info, err := x.c.info(ctx)
	if err != nil {
		return res, err
	}
	x.log.Info("connected", "cluster", info.ClusterName, "version", info.Version.Number, "distribution", info.Version.Distribution)
	names, streams, err := x.listIndices(ctx)
	if err != nil {
		return res, err
	}
	res.dataStreams = streams
	if len(streams) > 0 {
		msg := fmt.Sprintf("data streams are not backed up: %s", strings.Join(streams, ", "))
		x.log.Warn(msg)
		if x.stderr != nil {
			fmt.Fprintf(x.stderr, "elasticsearch-backup: %s\n", msg)
		}
	}
	if len(names) == 0 {
		return res, fmt.Errorf("no index matches --include=%s --exclude=%s", strings.Join(x.o.include, ","), strings.Join(x.o.exclude, ","))
	}
	res.indices = names
	x.log.Info("exporting indices", "count", len(names), "indices", strings.Join(names, ","))

	aw := newArchiveWriter(w, x.o.chunkSize, x.o.parallel+2)
	stop := x.progress()
	defer stop()
	err = x.write(ctx, aw, info, names, streams, &res)
	if ferr := aw.finish(err == nil); err == nil && ferr != nil {
		err = fmt.Errorf("writing the archive: %w", ferr)
	}
	res.bytes = aw.written()
	return res, err
}

func (x *exporter) write(ctx context.Context, aw *archiveWriter, info clusterInfo, names, streams []string, res *exportResult) error {
	meta := archiveMeta{
		Format: archiveFormat, Version: archiveVersion, Created: time.Now().UTC(),
		Source:  sourceInfo{Cluster: info.ClusterName, UUID: info.ClusterUUID, Version: info.Version.Number, Distribution: info.Version.Distribution},
		Indices: names, DataStreamsNotBackedUp: streams,
	}
	b, _ := json.Marshal(meta)
	if err := aw.file(ctx, metaEntry, b); err != nil {
		return err
	}
	sum := archiveSummary{Indices: map[string]indexSummary{}}
	for _, name := range names {
		is, err := x.exportIndex(ctx, aw, name)
		if err != nil {
			return fmt.Errorf("index %s: %w", name, err)
		}
		sum.Indices[name] = is
		sum.Documents += is.Documents
		x.log.Info("index exported", "index", name, "documents", is.Documents, "method", is.Method, "slices", is.Slices)
	}
	sum.Complete = true
	b, _ = json.Marshal(sum)
	if err := aw.file(ctx, summaryEntry, b); err != nil {
		return err
	}
	res.documents = sum.Documents
	res.perIndex = sum.Indices
	return nil
}

// progress logs the documents exported every 10 seconds until stopped.
func (x *exporter) progress() func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				x.log.Info("export progress", "documents", x.docs.Load())
			}
		}
	}()
	return func() { close(done) }
}

func (x *exporter) exportIndex(ctx context.Context, aw *archiveWriter, name string) (indexSummary, error) {
	raw, mappings, aliases, err := x.indexDefinition(ctx, name)
	if err != nil {
		return indexSummary{}, err
	}
	settings, dropped := filterSettings(raw)
	if len(dropped) > 0 {
		x.log.Info("settings left out (set by the cluster or bound to its nodes)", "index", name, "settings", strings.Join(dropped, ","))
	}
	sb, _ := json.Marshal(settings)
	for _, f := range []struct {
		file string
		data []byte
	}{{settingsFile, sb}, {mappingsFile, mappings}, {aliasesFile, aliases}} {
		if err := aw.file(ctx, name+"/"+f.file, f.data); err != nil {
			return indexSummary{}, err
		}
	}
	shards := 1
	if n, err := strconv.Atoi(fmt.Sprint(settings["index.number_of_shards"])); err == nil && n > 0 {
		shards = n
	}
	slices := x.o.slices
	if slices <= 0 {
		slices = shards
	}
	window := defaultMaxResultWindow
	if n, err := strconv.Atoi(fmt.Sprint(settings["index.max_result_window"])); err == nil && n > 0 {
		window = n
	}
	d := &docExport{x: x, aw: aw, index: name, slices: slices, window: window}
	return d.run(ctx)
}
