package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store is a repository in an S3 bucket, through minio-go.
type s3Store struct {
	client         *minio.Client
	bucket, prefix string
	endpoint       string
}

// s3Location parses an s3: location as restic 0.18.1 does:
// s3:http(s)://host/bucket/prefix, s3://host/bucket/prefix or
// s3:host/bucket/prefix (HTTPS).
func s3Location(loc string) (endpoint, bucket, prefix string, useHTTP bool, err error) {
	switch {
	case strings.HasPrefix(loc, "s3:http"):
		u, perr := url.Parse(loc[3:])
		if perr != nil {
			return "", "", "", false, fmt.Errorf("s3 location: %w", perr)
		}
		if u.Path == "" {
			return "", "", "", false, errors.New("s3 location: no bucket name")
		}
		endpoint, useHTTP = u.Host, u.Scheme == "http"
		bucket, prefix, _ = strings.Cut(u.Path[1:], "/")
	case strings.HasPrefix(loc, "s3://"):
		endpoint, prefix, _ = strings.Cut(loc[5:], "/")
		bucket, prefix, _ = strings.Cut(prefix, "/")
	default:
		endpoint, prefix, _ = strings.Cut(strings.TrimPrefix(loc, "s3:"), "/")
		bucket, prefix, _ = strings.Cut(prefix, "/")
	}
	if endpoint == "" || bucket == "" {
		return "", "", "", false, errors.New("s3 location: no endpoint or no bucket name")
	}
	return endpoint, bucket, cleanPrefix(prefix), useHTTP, nil
}

func openS3(loc string, e env) (*s3Store, error) {
	endpoint, bucket, prefix, useHTTP, err := s3Location(loc)
	if err != nil {
		return nil, err
	}
	tr, err := e.transport()
	if err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if id, secret := e.get("AWS_ACCESS_KEY_ID"), e.get("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		creds = credentials.NewStaticV4(id, secret, e.get("AWS_SESSION_TOKEN"))
	} else {
		// No keys in the Secret: the credentials files and the instance's
		// role, as restic's chain goes on.
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.FileAWSCredentials{},
			&credentials.IAM{Client: &http.Client{Transport: tr}},
		})
	}
	lookup := minio.BucketLookupAuto
	switch e.option("s3.bucket-lookup") {
	case "dns":
		lookup = minio.BucketLookupDNS
	case "path":
		lookup = minio.BucketLookupPath
	}
	scheme := "https://"
	if useHTTP {
		scheme = "http://"
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:        creds,
		Secure:       !useHTTP,
		Transport:    tr,
		Region:       first(e.option("s3.region"), e.get("AWS_DEFAULT_REGION")),
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", scheme+endpoint, err)
	}
	return &s3Store{client: c, bucket: bucket, prefix: prefix, endpoint: scheme + endpoint}, nil
}

func (s *s3Store) String() string { return describe("s3", "bucket", s.bucket, s.prefix, s.endpoint) }

func (s *s3Store) List(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var names []string
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: under(s.prefix), Recursive: true}) {
		if o.Err != nil {
			return nil, s3Error(o.Err)
		}
		names = append(names, strings.TrimPrefix(o.Key, under(s.prefix)))
	}
	return names, nil
}

// Delete deletes names with S3's DeleteObjects, a thousand per request.
func (s *s3Store) Delete(ctx context.Context, names []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objects := make(chan minio.ObjectInfo)
	go func() {
		defer close(objects)
		for _, n := range names {
			select {
			case objects <- minio.ObjectInfo{Key: join(s.prefix, n)}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var errs []error
	for r := range s.client.RemoveObjects(ctx, s.bucket, objects, minio.RemoveObjectsOptions{}) {
		if r.Err != nil && minio.ToErrorResponse(r.Err).Code != "NoSuchKey" {
			errs = append(errs, fmt.Errorf("%s: %w", r.ObjectName, s3Error(r.Err)))
			if len(errs) == 10 {
				cancel()
				break
			}
		}
	}
	return errors.Join(errs...)
}

// s3Error is err with S3's error code in front when it has one.
func s3Error(err error) error {
	if r := minio.ToErrorResponse(err); r.Code != "" {
		return fmt.Errorf("%s: %w", r.Code, err)
	}
	return err
}
