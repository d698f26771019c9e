package objectstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// restStore is a repository on a rest-server, through restic's REST
// protocol (version 2): GET /<type>/ lists, DELETE /<type>/<id> and
// DELETE /config delete.
type restStore struct {
	client   *http.Client
	base     *url.URL // ends in "/", no credentials
	user     string
	password string
}

// restTypes are the REST protocol's object types, as listed.
var restTypes = []string{"data", "index", "snapshots", "locks", "keys"}

func openRest(loc string, e env) (*restStore, error) {
	u, err := url.Parse(strings.TrimPrefix(loc, "rest:"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rest location %s: not an http(s) URL", describeURL(u))
	}
	s := &restStore{user: e.get("RESTIC_REST_USERNAME"), password: e.get("RESTIC_REST_PASSWORD")}
	if u.User != nil { // restic takes them from the URL too; the CRD refuses such a url
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
		u.User = nil
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	s.base = u
	if s.client, err = e.httpClient(); err != nil {
		return nil, err
	}
	return s, nil
}

func describeURL(u *url.URL) string {
	if u == nil {
		return "(unparseable)"
	}
	c := *u
	c.User = nil
	return c.String()
}

func (s *restStore) String() string { return "rest-server repository " + s.base.String() }

func (s *restStore) do(ctx context.Context, method, rel string, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base.String()+rel, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if s.user != "" || s.password != "" {
		req.SetBasicAuth(s.user, s.password)
	}
	return s.client.Do(req)
}

// status is an error for an unexpected answer.
func status(method, rel string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(b))
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("%s %s: %s%s", method, rel, resp.Status, msg)
}

func (s *restStore) List(ctx context.Context) ([]string, error) {
	var names []string
	resp, err := s.do(ctx, http.MethodHead, "config", "")
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		names = append(names, "config")
	case http.StatusNotFound:
	default:
		return nil, status(http.MethodHead, "config", resp)
	}
	for _, t := range restTypes {
		ids, err := s.list(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if t == "data" && len(id) >= 2 {
				names = append(names, "data/"+id[:2]+"/"+id)
			} else {
				names = append(names, t+"/"+id)
			}
		}
	}
	return names, nil
}

func (s *restStore) list(ctx context.Context, typ string) ([]string, error) {
	resp, err := s.do(ctx, http.MethodGet, typ+"/", "application/vnd.x.restic.rest.v2")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, status(http.MethodGet, typ+"/", resp)
	}
	var blobs []struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&blobs); err != nil {
		return nil, fmt.Errorf("GET %s/: %w", typ, err)
	}
	ids := make([]string, len(blobs))
	for i, b := range blobs {
		ids[i] = b.Name
	}
	return ids, nil
}

// Delete deletes each name: "data/<xx>/<id>" is DELETE data/<id>.
func (s *restStore) Delete(ctx context.Context, names []string) error {
	return deleteEach(ctx, names, func(ctx context.Context, n string) error {
		rel := n
		if typ, rest, ok := strings.Cut(n, "/"); ok {
			_, id, _ := strings.Cut(rest, "/")
			if typ == "data" && id != "" {
				rel = typ + "/" + id
			}
		}
		resp, err := s.do(ctx, http.MethodDelete, rel, "")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			return status(http.MethodDelete, rel, resp)
		}
		return nil
	})
}
