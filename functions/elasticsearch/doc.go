// Package elasticsearch is the elasticsearch-backup and elasticsearch-restore
// Functions: indices (settings, mappings, aliases, documents) exported as one
// tar archive streamed into `restic backup --stdin`, and streamed back from
// `restic dump` into the bulk API.
//
// Backup (export.go; export_indices.go selects indices and reads their
// definitions, export_docs.go runs the slices, export_pit.go,
// export_scroll.go and export_fromsize.go page; archive.go). Indices are
// listed with _cat/indices (hidden and dot-prefixed ones only with
// --include-hidden; data streams and their backing indices are reported, not
// backed up) and matched against --include/--exclude. Per index the settings
// lose what the cluster sets itself or what binds them to its nodes
// (settings.go). Documents are paged
// with the best method the server has, learned once per run:
//
//   - a point in time with search_after sorted on _shard_doc, in slices (one
//     per primary shard by default, at most 8 fetched at once); a probe with
//     size 0 checks the sort and counts the documents first;
//   - else a scroll, sliced the same way;
//   - else from/size, with a clear error when the index holds more than
//     index.max_result_window documents, and a check that no document comes
//     twice.
//
// Every method ends with a count check. Search responses are not decoded:
// a small scanner (scan.go) copies each hit's _id, _routing and _source
// bytes into the archive line. tar needs sizes up front, so documents go in
// chunks of at most 4 MiB, each buffered whole; a fixed pool of
// (parallel slices + 2) buffers bounds memory whatever the index size. The
// archive ends with summary.json; if anything fails before, restic is killed
// before its input reaches EOF, so no snapshot is written (restic commits on
// EOF).
//
// Restore (restore.go; restore_read.go parses the archive, restore_index.go
// creates the indices, load.go bulk-loads, restore_verify.go checks the
// counts). The archive is parsed as it streams out of
// `restic dump`. All target names (after --rename-prefix/--rename-suffix,
// which apply to alias names too) are checked first, so --existing=fail
// fails before anything is written. Each index is created with its settings
// (refresh_interval -1, write blocks held back), mappings and aliases;
// documents go through a bulk indexer of our own (bulk.go; esutil.BulkIndexer
// imports the whole client). 429 answers are retried: whole
// requests in the transport, honouring Retry-After; single items in rounds
// with backoff. Then the held-back settings are applied, the index
// refreshed, and its _count (or a search's hits.total) must equal the
// archive's; servers that refresh asynchronously get up to a minute. A
// failed restore deletes the indices it created, so that a retry finds the
// names free.
//
// The client is go-elasticsearch's transport (node pool, retries) without
// its product check, so Elasticsearch 7 and API-compatible servers work;
// response compression is off because CPU, not bandwidth, is the bound.
//
// Tests run against estest (a test double of the Elasticsearch 8 API, for
// tests only) and against a real ZincSearch built by hack/build-zincsearch.sh;
// see docs/elasticsearch.md.
package elasticsearch
