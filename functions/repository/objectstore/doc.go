// Package objectstore reaches a restic repository's objects on S3 (and
// S3-compatible servers such as MinIO), Google Cloud Storage, Azure Blob
// Storage and restic's rest-server, for repository-wipe (package
// repository's ObjectStore): it lists the objects under the repository's
// root and deletes some of them. Nothing else: restic itself does every
// other thing a repository needs.
//
// The location and credentials are the ones restic reads from the step's
// environment (RESTIC_REPOSITORY, AWS_*, GOOGLE_APPLICATION_CREDENTIALS,
// AZURE_*, RESTIC_REST_*, RESTIC_CACERT, stashflow's restic options), read
// from the environ handed to Open, never from this process's own
// environment, and parsed as restic 0.18.1 parses them, so that both reach
// the same objects. S3 goes through minio-go (restic's own client), Azure
// through azblob; GCS speaks the JSON API with golang.org/x/oauth2, and the
// rest-server its REST protocol (rest-server deletes config, keys and
// packs alike; the empty directories it keeps are not objects).
//
// These clients weigh on a binary's size: only the full stashflow binary
// links this package (repository-wipe is one of functions.HeavyNames), the
// lean stashflow-fn does not.
package objectstore
