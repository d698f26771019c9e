package objectstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// gcsScope is the scope restic asks Google for (storage.ScopeReadWrite).
const gcsScope = "https://www.googleapis.com/auth/devstorage.read_write"

// gcsStore is a repository in a Google Cloud Storage bucket, through the
// JSON API (storage/v1) with an OAuth2 token: the key file of
// GOOGLE_APPLICATION_CREDENTIALS (the runtime writes Stash's
// GOOGLE_SERVICE_ACCOUNT_JSON_KEY there), GOOGLE_ACCESS_TOKEN, or Google's
// default credentials, as restic. STORAGE_EMULATOR_HOST replaces
// https://storage.googleapis.com, as in Google's client library.
type gcsStore struct {
	client         *http.Client
	api            string // ends in /storage/v1/
	bucket, prefix string
}

// gcsLocation parses gs:<bucket>:/<prefix> as restic does.
func gcsLocation(loc string) (bucket, prefix string, err error) {
	bucket, prefix, ok := strings.Cut(strings.TrimPrefix(loc, "gs:"), ":")
	if !ok || bucket == "" {
		return "", "", errors.New("gs location: want gs:<bucket>:/<prefix>")
	}
	return bucket, cleanPrefix(prefix), nil
}

func openGCS(ctx context.Context, loc string, e env) (*gcsStore, error) {
	bucket, prefix, err := gcsLocation(loc)
	if err != nil {
		return nil, err
	}
	base, err := e.httpClient()
	if err != nil {
		return nil, err
	}
	// The token source keeps ctx for its refreshes: the step's context.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, base)
	var ts oauth2.TokenSource
	switch keyFile, token := e.get("GOOGLE_APPLICATION_CREDENTIALS"), e.get("GOOGLE_ACCESS_TOKEN"); {
	case token != "":
		ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
	case keyFile != "":
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("gcs credentials: %w", err)
		}
		creds, err := google.CredentialsFromJSONWithParams(ctx, b, google.CredentialsParams{Scopes: []string{gcsScope}})
		if err != nil {
			return nil, fmt.Errorf("gcs credentials (GOOGLE_SERVICE_ACCOUNT_JSON_KEY): %w", err)
		}
		ts = creds.TokenSource
	default:
		creds, err := google.FindDefaultCredentials(ctx, gcsScope)
		if err != nil {
			return nil, fmt.Errorf("gcs credentials: no GOOGLE_SERVICE_ACCOUNT_JSON_KEY in the storage Secret and no default credentials: %w", err)
		}
		ts = creds.TokenSource
	}
	api := "https://storage.googleapis.com/storage/v1/"
	if host := e.get("STORAGE_EMULATOR_HOST"); host != "" {
		if !strings.Contains(host, "://") {
			host = "http://" + host
		}
		api = strings.TrimSuffix(host, "/") + "/storage/v1/"
	}
	return &gcsStore{client: oauth2.NewClient(ctx, ts), api: api, bucket: bucket, prefix: prefix}, nil
}

func (s *gcsStore) String() string { return describe("gcs", "bucket", s.bucket, s.prefix, "") }

// gcsError is Google's JSON error body.
type gcsError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func gcsStatus(op string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var ge gcsError
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &ge) == nil && ge.Error.Message != "" {
		msg = ge.Error.Message
	}
	if len(msg) > 256 {
		msg = msg[:256]
	}
	return fmt.Errorf("%s: %s: %s", op, resp.Status, msg)
}

func (s *gcsStore) List(ctx context.Context) ([]string, error) {
	var names []string
	page := ""
	for {
		q := url.Values{"prefix": {under(s.prefix)}, "fields": {"items(name),nextPageToken"}}
		if page != "" {
			q.Set("pageToken", page)
		}
		u := s.api + "b/" + url.PathEscape(s.bucket) + "/o?" + q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			err := gcsStatus("listing objects", resp)
			_ = resp.Body.Close()
			return nil, err
		}
		var list struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("listing objects: %w", err)
		}
		for _, it := range list.Items {
			if strings.HasPrefix(it.Name, under(s.prefix)) {
				names = append(names, strings.TrimPrefix(it.Name, under(s.prefix)))
			}
		}
		if page = list.NextPageToken; page == "" {
			return names, nil
		}
	}
}

func (s *gcsStore) Delete(ctx context.Context, names []string) error {
	return deleteEach(ctx, names, func(ctx context.Context, n string) error {
		u := s.api + "b/" + url.PathEscape(s.bucket) + "/o/" + url.PathEscape(join(s.prefix, n))
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
		if err != nil {
			return err
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			return gcsStatus("deleting "+n, resp)
		}
		return nil
	})
}
