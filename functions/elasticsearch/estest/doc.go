// Package estest is a test double of the Elasticsearch 8 REST API, for tests
// only. It is not Elasticsearch, nor a stand-in for one in production, and it
// does not search: it stores documents and serves back the parts of the API
// that export and import tools page through, with the request and response
// shapes of the Elasticsearch 8 reference:
//
//   - GET / (cluster info), with the X-Elastic-Product header the official
//     clients check;
//   - PUT /<index> (settings, mappings, aliases), HEAD/GET/DELETE /<index>,
//     GET|PUT /<index>/_settings (flat_settings), GET /<index>/_mapping,
//     GET /_alias, GET /<index>/_alias, POST /_aliases;
//   - POST /_bulk and /<index>/_bulk (index, create, delete), ?refresh;
//   - POST /<index>/_pit?keep_alive= and DELETE /_pit (point in time);
//   - POST /_search with pit + sort (_shard_doc, _doc) + search_after +
//     slice{id,max}; POST /<index>/_search with from/size; scroll
//     (?scroll=, POST /_search/scroll, DELETE /_search/scroll) with expiry;
//   - GET /<index>/_count, POST /<index>/_refresh, GET /_cat/indices?format=json,
//     GET /_data_stream.
//
// Queries are match_all only. Documents are visible to searches and counts
// after a refresh, as in Elasticsearch: immediately when the index's
// refresh_interval is not "-1" (the test server refreshes on every write
// then), otherwise only after _refresh or ?refresh on _bulk. Shards are real
// enough for slicing and for _shard_doc sort values (shard ordinal << 32 |
// document position); routing picks a shard by FNV hash, not murmur3.
//
// Failure injection for tests: Options (authentication, no point in time, no
// scroll), RejectRequests (429 Too Many Requests with Retry-After, as a
// proxy or a saturated cluster answers), RejectBulkItems (per-item 429
// es_rejected_execution_exception in a 200 bulk response) and Hook (any
// answer to any request).
//
// Its own tests compare its responses with the examples of the Elasticsearch
// reference (testdata/reference), key by key.
package estest
