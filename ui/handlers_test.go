package ui

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// fixedNow is the clock of the handler tests: after every fixture step.
var fixedNow = time.Date(2025, 6, 1, 10, 0, 30, 0, time.UTC)

// fixtures are the handler tests' objects: testdata/objects.yaml in ns1,
// testdata/restore.yaml in ns2. They are created once per test binary.
type fixtures struct{ ns1, ns2 string }

var (
	fixturesOnce sync.Once
	shared       fixtures
)

func loadFixtures(t *testing.T) fixtures {
	t.Helper()
	c := testClient(t)
	fixturesOnce.Do(func() {
		shared.ns1 = newNamespace(t, c, "handlers")
		shared.ns2 = newNamespace(t, c, "restores")
		createObjects(t, c, shared.ns1, mustParse(t, "objects.yaml"))
		createObjects(t, c, shared.ns2, mustParse(t, "restore.yaml"))
	})
	if shared.ns1 == "" {
		t.Fatal("the fixtures could not be created (see the first test that tried)")
	}
	return shared
}

// newTestServer is a UI on the shared apiserver, read with a direct client.
func newTestServer(t *testing.T, mutate ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Client: testClient(t),
		Logger: testr.New(t), Now: func() time.Time { return fixedNow },
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type response struct {
	code   int
	body   string
	header http.Header
}

func get(t *testing.T, h http.Handler, target string, mutate ...func(*http.Request)) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for _, m := range mutate {
		m(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.String(), rec.Header()}
}

var sessionAttr = regexp.MustCompile(`data-session="([^"]+)"`)

// sessionsIn lists the data-session attributes of a page, in order.
func sessionsIn(body string) []string {
	var out []string
	for _, m := range sessionAttr.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestSessionsPage(t *testing.T) {
	f := loadFixtures(t)
	h := newTestServer(t).Handler()
	nightly, orphan, restore := "BackupSession/"+f.ns1+"/nightly-1", "BackupSession/"+f.ns1+"/orphan-1", "RestoreSession/"+f.ns2+"/restore-1"

	tests := []struct {
		name  string
		query string
		want  []string // sessions of ns1 and ns2, in page order
	}{
		{"everything", "", []string{nightly, orphan, restore}},
		{"one namespace", "?namespace=" + f.ns2, []string{restore}},
		{"one kind", "?kind=RestoreSession", []string{restore}},
		{"a kind by its URL name", "?kind=backupsession&namespace=" + f.ns1, []string{nightly, orphan}},
		{"one phase", "?phase=Running", []string{restore}},
		{"phase and namespace", "?phase=Failed&namespace=" + f.ns1, []string{nightly, orphan}},
		{"nothing matches", "?phase=Skipped&namespace=" + f.ns1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, h, "/sessions"+tt.query)
			if r.code != http.StatusOK {
				t.Fatalf("GET /sessions%s = %d:\n%s", tt.query, r.code, r.body)
			}
			var got []string
			for _, s := range sessionsIn(r.body) {
				if strings.Contains(s, "/"+f.ns1+"/") || strings.Contains(s, "/"+f.ns2+"/") {
					got = append(got, s)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
			if tt.want == nil && !strings.Contains(r.body, "No sessions match these filters") {
				t.Error("an empty result does not say so")
			}
			if !strings.Contains(r.body, `data-refresh="3000"`) {
				t.Error("the sessions page does not refresh itself")
			}
		})
	}

	t.Run("phases are coloured and link to the session", func(t *testing.T) {
		r := get(t, h, "/sessions?namespace="+f.ns1)
		for _, want := range []string{
			`<a href="/sessions/backupsession/` + f.ns1 + `/nightly-1">nightly-1</a>`,
			`<span class="phase phase-failed" title="StepFailed: target AppBinding/a: step a-uitest-check failed: 3 packs missing">Failed</span>`,
			`<td class="invoker">BackupBatch/nightly</td>`,
			`<td class="num">9s</td>`,
			`<option value="` + f.ns1 + `" selected>`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		r = get(t, h, "/sessions?namespace="+f.ns2)
		if !strings.Contains(r.body, `<td class="invoker">Repository/repo</td>`) || !strings.Contains(r.body, "phase-running") {
			t.Error("the restore's row lacks its repository or its Running phase")
		}
	})

	t.Run("JSON", func(t *testing.T) {
		r := get(t, h, "/api/sessions?namespace="+f.ns2)
		if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /api/sessions = %d %s", r.code, r.header.Get("Content-Type"))
		}
		var out struct {
			Sessions []sessionRow `json:"sessions"`
			Total    int          `json:"total"`
		}
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			t.Fatal(err)
		}
		if out.Total != 1 || len(out.Sessions) != 1 || out.Sessions[0].Name != "restore-1" || out.Sessions[0].Phase != "Running" ||
			out.Sessions[0].URL != "/sessions/restoresession/"+f.ns2+"/restore-1" {
			t.Errorf("sessions = %+v", out)
		}
	})

	for _, q := range []string{"?kind=Nope", "?phase=Nope", "?limit=-1"} {
		if r := get(t, h, "/sessions"+q); r.code != http.StatusBadRequest {
			t.Errorf("GET /sessions%s = %d, want 400", q, r.code)
		}
		if r := get(t, h, "/api/sessions"+q); r.code != http.StatusBadRequest || !strings.Contains(r.body, `"error"`) {
			t.Errorf("GET /api/sessions%s = %d %s, want 400 with an error", q, r.code, r.body)
		}
	}
	if r := get(t, h, "/sessions?limit=1"); !strings.Contains(r.body, "Showing the newest 1 of") || len(sessionsIn(r.body)) != 1 {
		t.Errorf("limit=1 shows %d sessions", len(sessionsIn(r.body)))
	}
}

var stepAttr = regexp.MustCompile(`<g class="node [^"]*" data-step="([^"]*)" data-phase="([^"]*)"`)

// nodesIn reads the DAG's nodes of a page: step name → phase.
func nodesIn(body string) map[string]string {
	out := map[string]string{}
	for _, m := range stepAttr.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestSessionPage(t *testing.T) {
	f := loadFixtures(t)
	h := newTestServer(t).Handler()

	t.Run("graph from the run record", func(t *testing.T) {
		r := get(t, h, "/sessions/backupsession/"+f.ns1+"/nightly-1")
		if r.code != http.StatusOK {
			t.Fatalf("GET = %d:\n%s", r.code, r.body)
		}
		want := map[string]string{
			"global-pre-backup": "Succeeded", "a-uitest-backup": "Succeeded", "a-uitest-check": "Failed", "a-post-backup": "Succeeded",
			"b-uitest-backup": "Succeeded", "b-uitest-check": "Failed", "global-post-backup": "Succeeded",
		}
		if diff := cmp.Diff(want, nodesIn(r.body)); diff != "" {
			t.Errorf("nodes (-want +got):\n%s", diff)
		}
		for _, s := range []string{
			`<a class="argo" href="https://argo.example/workflows/argo/nightly-1-x7k2p"`,
			`snapshot 1a2b3c4d · 2.0 KiB`,
			`snapshot 99aa88bb · 3.0 MiB`,
			`<tr id="step-a-uitest-check" data-step="a-uitest-check" data-phase="Failed">`,
			`class="edge when-onfailure anyof"`,
			`<td class="msg">3 packs missing</td>`,
			// Every failure, on its node and in the list linking to it.
			`data-target="AppBinding/a" id="node-a-uitest-check"`,
			`<text class="n-fail" x="16" y="76">3 packs missing</text>`,
			`<text class="n-fail" x="16" y="76">exit code 2: index of pack 5f2e90…</text>`,
			`<h2 id="failures">2 failed steps</h2>`,
			`<li data-failed="a-uitest-check"><a href="#node-a-uitest-check">uitest-check</a> <span class="where">AppBinding/a · step · <a href="#step-a-uitest-check">details</a></span>`,
			`<li data-failed="b-uitest-check"><a href="#node-b-uitest-check">uitest-check</a>`,
			"<span class=\"msg\">exit code 2: index of pack 5f2e90 does not match its contents\nsee restic check --read-data</span>",
		} {
			if !strings.Contains(r.body, s) {
				t.Errorf("the page lacks %s", s)
			}
		}
		if strings.Contains(r.body, `id="graph-note"`) {
			t.Error("the page says the graph comes from the status")
		}
		if strings.Contains(r.body, "data-refresh") {
			t.Error("a finished session's page refreshes itself")
		}
	})

	t.Run("JSON", func(t *testing.T) {
		r := get(t, h, "/api/sessions/backupsession/"+f.ns1+"/nightly-1")
		var out struct {
			FromStatus bool       `json:"graphFromStatus"`
			Nodes      []nodeJSON `json:"nodes"`
			Edges      []edgeJSON `json:"edges"`
		}
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			t.Fatalf("%v:\n%s", err, r.body)
		}
		if out.FromStatus || len(out.Nodes) != 7 || len(out.Edges) != 9 {
			t.Errorf("graphFromStatus %v, %d nodes, %d edges; want false, 7, 9", out.FromStatus, len(out.Nodes), len(out.Edges))
		}
	})

	t.Run("no run record: from the status, hostile text escaped", func(t *testing.T) {
		r := get(t, h, "/sessions/backupsession/"+f.ns1+"/orphan-1")
		if r.code != http.StatusOK {
			t.Fatalf("GET = %d:\n%s", r.code, r.body)
		}
		if !strings.Contains(r.body, `id="graph-note"`) || !strings.Contains(r.body, "no run record") {
			t.Error("the page does not say the graph comes from the status, and why")
		}
		for _, raw := range []string{`<script>alert`, `<img src=x`, `</text></svg><script>`, `<b>x</b>`, `</title><script>`} {
			if strings.Contains(r.body, raw) {
				t.Errorf("the page holds %q unescaped", raw)
			}
		}
		if n := strings.Count(r.body, "<script"); n != 1 {
			t.Errorf("%d <script elements, want only live.js", n)
		}
		for _, escaped := range []string{
			`data-step="&lt;script&gt;alert(1)&lt;/script&gt;"`,
			`&lt;/text&gt;&lt;/svg&gt;&lt;script&gt;alert(2)&lt;/script&gt;`,
			`&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`,
		} {
			if !strings.Contains(r.body, escaped) {
				t.Errorf("the page lacks the escaped %s", escaped)
			}
		}
		if got := nodesIn(r.body); len(got) != 2 || got["after"] != "Skipped" {
			t.Errorf("nodes = %v, want the two status steps", got)
		}
	})

	t.Run("running restore without a record: live, from the status", func(t *testing.T) {
		r := get(t, h, "/sessions/restoresession/"+f.ns2+"/restore-1")
		if r.code != http.StatusOK || !strings.Contains(r.body, `data-refresh="3000"`) || !strings.Contains(r.body, "no run record") {
			t.Errorf("GET = %d; want a live page saying the graph is drawn from the status:\n%s", r.code, r.body)
		}
		if got := nodesIn(r.body); got["uitest-restore"] != "Running" {
			t.Errorf("nodes = %v", got)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{
			"/sessions/nope/" + f.ns1 + "/nightly-1",
			"/sessions/backupsession/" + f.ns1 + "/missing",
			"/sessions/restorebatch/" + f.ns1 + "/nightly-1",
			"/repositories/" + f.ns1 + "/missing",
			"/nope",
			"/static/nope.css",
		} {
			if r := get(t, h, path); r.code != http.StatusNotFound {
				t.Errorf("GET %s = %d, want 404", path, r.code)
			}
		}
		r := get(t, h, "/api/sessions/backupsession/"+f.ns1+"/missing")
		if r.code != http.StatusNotFound || !strings.Contains(r.body, "not found") {
			t.Errorf("GET /api/... missing = %d %s", r.code, r.body)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req := httptest.NewRequest(m, "/sessions", strings.NewReader("x"))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s /sessions = %d, want 405", m, rec.Code)
			}
		}
	})

	t.Run("security headers", func(t *testing.T) {
		r := get(t, h, "/sessions")
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Error("no X-Content-Type-Options: nosniff")
		}
	})
}

func TestRepositoriesPage(t *testing.T) {
	f := loadFixtures(t)
	h := newTestServer(t).Handler()
	r := get(t, h, "/repositories?namespace="+f.ns1)
	if r.code != http.StatusOK {
		t.Fatalf("GET = %d:\n%s", r.code, r.body)
	}
	re := regexp.MustCompile(`(?s)<tr data-repository="` + f.ns1 + `/repo">.*?</tr>`)
	row := re.FindString(r.body)
	cells := regexp.MustCompile(`<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row, -1)
	var got []string
	for _, c := range cells {
		got = append(got, c[1])
	}
	want := []string{f.ns1, `<a href="/repositories/` + f.ns1 + `/repo">repo</a>`, "local", "7", "1", "1.5 GiB", "2025-06-01 10:00:09Z", "true", "",
		`<a href="/sessions?repository=` + f.ns1 + `/repo">sessions</a>`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("repository row (-want +got):\n%s", diff)
	}

	r = get(t, h, "/repositories/"+f.ns1+"/repo")
	if r.code != http.StatusOK {
		t.Fatalf("GET = %d:\n%s", r.code, r.body)
	}
	for _, s := range []string{
		`<tr data-snapshot="1a2b3c4d5e6f70811a2b3c4d5e6f70811a2b3c4d5e6f70811a2b3c4d5e6f7081">`,
		`<td class="mono" title="1a2b3c4d5e6f70811a2b3c4d5e6f70811a2b3c4d5e6f70811a2b3c4d5e6f7081 (repo-1a2b3c4d)">1a2b3c4d</td>`,
		`<td class="num">2.0 KiB</td>`,
		`<td>nightly-1</td>`,
	} {
		if !strings.Contains(r.body, s) {
			t.Errorf("the page lacks %s", s)
		}
	}
	if strings.Contains(strings.ToLower(r.body), "not-a-secret") || strings.Contains(r.body, "repo-secret") {
		t.Error("the page shows something of the storage Secret")
	}
	// Its sessions: the batch's, not the orphan's (its invoker is gone).
	if diff := cmp.Diff([]string{"BackupSession/" + f.ns1 + "/nightly-1"}, sessionsIn(r.body)); diff != "" {
		t.Errorf("the repository's sessions (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.body, `<a id="all-sessions" href="/sessions?repository=`+f.ns1+`/repo">All 1 sessions of this repository</a>`) {
		t.Error("the repository page does not link to all its sessions")
	}
}

// TestSessionFilters: a repository's and an invoker's sessions.
func TestSessionFilters(t *testing.T) {
	f := loadFixtures(t)
	h := newTestServer(t).Handler()
	tests := []struct {
		query string
		want  []string
	}{
		{"?repository=" + f.ns1 + "/repo", []string{"BackupSession/" + f.ns1 + "/nightly-1"}},
		{"?repository=" + f.ns2 + "/repo", []string{"RestoreSession/" + f.ns2 + "/restore-1"}},
		{"?repository=" + f.ns1 + "/other", nil},
		{"?namespace=" + f.ns1 + "&invoker=BackupBatch/nightly", []string{"BackupSession/" + f.ns1 + "/nightly-1"}},
		{"?namespace=" + f.ns1 + "&invoker=BackupConfiguration/gone", []string{"BackupSession/" + f.ns1 + "/orphan-1"}},
	}
	for _, tt := range tests {
		r := get(t, h, "/sessions"+tt.query)
		if r.code != http.StatusOK {
			t.Fatalf("GET /sessions%s = %d:\n%s", tt.query, r.code, r.body)
		}
		if diff := cmp.Diff(tt.want, sessionsIn(r.body)); diff != "" {
			t.Errorf("GET /sessions%s (-want +got):\n%s", tt.query, diff)
		}
	}
	r := get(t, h, "/sessions?repository="+f.ns1+"/repo")
	if !strings.Contains(r.body, `<input type="hidden" name="repository" value="`+f.ns1+`/repo">`) {
		t.Error("the filter form drops the repository")
	}
	for _, q := range []string{"?repository=repo", "?repository=/x", "?invoker=Pod/x", "?invoker=BackupBatch"} {
		if r := get(t, h, "/sessions"+q); r.code != http.StatusBadRequest {
			t.Errorf("GET /sessions%s = %d, want 400", q, r.code)
		}
	}
}

// TestSchedulesPage: every BackupConfiguration and BackupBatch with its
// schedule, next slot (the operator's), last session and its result.
func TestSchedulesPage(t *testing.T) {
	f := loadFixtures(t)
	h := newTestServer(t).Handler()
	r := get(t, h, "/schedules?namespace="+f.ns1)
	if r.code != http.StatusOK {
		t.Fatalf("GET = %d:\n%s", r.code, r.body)
	}
	cellsOf := func(invoker string) []string {
		row := regexp.MustCompile(`(?s)<tr data-invoker="` + regexp.QuoteMeta(invoker) + `">.*?</tr>`).FindString(r.body)
		var out []string
		for _, c := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row, -1) {
			out = append(out, c[1])
		}
		return out
	}
	repo := `<a href="/repositories/` + f.ns1 + `/repo">` + f.ns1 + `/repo</a>`
	tests := []struct {
		invoker string
		want    []string
	}{
		{"BackupBatch/" + f.ns1 + "/nightly", []string{
			f.ns1, "BackupBatch", `<a href="/sessions?namespace=` + f.ns1 + `&amp;invoker=BackupBatch/nightly" title="its sessions">nightly</a>`, repo, "–",
			`<span class="muted">no schedule: runs when triggered</span>`,
			`<a href="/sessions/backupsession/` + f.ns1 + `/nightly-1">nightly-1</a> <span class="muted">` + sessionStarted(t, f.ns1, "nightly-1") + `</span>`,
			`<span class="phase phase-failed" title="StepFailed: target AppBinding/a: step a-uitest-check failed: 3 packs missing">Failed</span>`,
			"",
		}},
		{"BackupConfiguration/" + f.ns1 + "/hourly", []string{
			f.ns1, "BackupConfiguration", `<a href="/sessions?namespace=` + f.ns1 + `&amp;invoker=BackupConfiguration/hourly" title="its sessions">hourly</a>`, repo, "0 * * * *",
			`<time datetime="2025-06-01T11:00:00Z">2025-06-01 11:00:00Z</time> <span class="muted">in 59m30s</span>`,
			"none yet", "", "",
		}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, cellsOf(tt.invoker)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.invoker, diff)
		}
	}
	if !strings.Contains(r.body, `<a href="/schedules" aria-current="page">Schedules</a>`) {
		t.Error("the navigation does not mark the schedules page")
	}
}

// sessionStarted is the start a page shows for a session: its creation,
// which the apiserver sets.
func sessionStarted(t *testing.T, ns, name string) string {
	t.Helper()
	rec, err := getSession(context.Background(), testClient(t), sessionKinds[0], ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return formatTime(rec.Created)
}

func TestTokenAuth(t *testing.T) {
	f := loadFixtures(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	const token = "s3cret-t0ken"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newTestServer(t, func(c *Config) { c.TokenFile = tokenFile }).Handler()
	bearer := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	cookie := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieName, Value: v}) }
	}

	if r := get(t, h, "/sessions"); r.code != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d, WWW-Authenticate %q; want 401 with a challenge", r.code, r.header.Get("WWW-Authenticate"))
	}
	if r := get(t, h, "/static/style.css"); r.code != http.StatusUnauthorized {
		t.Errorf("static without a token: %d, want 401", r.code)
	}
	for _, v := range []string{"Bearer wrong", "Bearer " + token + "x", "Basic " + token, "Bearer"} {
		if r := get(t, h, "/sessions", bearer(v)); r.code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", v, r.code)
		}
	}
	if r := get(t, h, "/sessions", bearer("Bearer "+token)); r.code != http.StatusOK {
		t.Errorf("the right bearer token: %d, want 200", r.code)
	}
	if r := get(t, h, "/api/sessions?namespace="+f.ns2, bearer("bearer "+token)); r.code != http.StatusOK {
		t.Errorf("the right bearer token, lower-case scheme: %d, want 200", r.code)
	}

	// A browser: ?token= once, then the cookie.
	r := get(t, h, "/sessions?namespace="+f.ns1+"&token="+token)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/sessions?namespace="+f.ns1 {
		t.Fatalf("?token=: %d to %q, want 303 to the same page without the token", r.code, r.header.Get("Location"))
	}
	resp := http.Response{Header: r.header}
	var c *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			c = ck
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || strings.Contains(c.Value, token) {
		t.Fatalf("cookie = %+v, want an HttpOnly, SameSite=Strict cookie that does not hold the token", c)
	}
	if r := get(t, h, "//evil.example/x?token="+token); r.code != http.StatusSeeOther || r.header.Get("Location") != "/evil.example/x" {
		t.Errorf("?token= on //evil.example/x: %d to %q, want a redirect on this host", r.code, r.header.Get("Location"))
	}
	if r := get(t, h, "/sessions", cookie(c.Value)); r.code != http.StatusOK {
		t.Errorf("with the cookie: %d, want 200", r.code)
	}
	if r := get(t, h, "/sessions", cookie(c.Value+"0")); r.code != http.StatusUnauthorized {
		t.Errorf("with a wrong cookie: %d, want 401", r.code)
	}
	if r := get(t, h, "/sessions?token=wrong"); r.code != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" {
		t.Errorf("?token=wrong: %d, Set-Cookie %q; want 401 and no cookie", r.code, r.header.Get("Set-Cookie"))
	}

	// An empty token file is refused.
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Client: testClient(t), Options: Options{TokenFile: empty}}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("New with an empty token file: err = %v", err)
	}
	if _, err := New(Config{Client: testClient(t), Options: Options{TLSCertFile: "x.pem"}}); err == nil {
		t.Error("New with a certificate and no key: no error")
	}
}

// TestServeTLS runs the server as the manager does (Start), with TLS.
func TestServeTLS(t *testing.T) {
	loadFixtures(t)
	certFile, keyFile, pool := selfSigned(t)
	s := newTestServer(t, func(c *Config) {
		c.BindAddress, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", certFile, keyFile
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	}()
	var addr net.Addr
	for deadline := time.Now().Add(5 * time.Second); addr == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		addr = s.Addr()
	}
	if addr == nil {
		t.Fatal("the server did not listen")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Get("https://" + addr.String() + "/sessions")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<h1>Sessions</h1>") {
		t.Errorf("GET over TLS = %d", resp.StatusCode)
	}
	// Plain HTTP gets Go's 400 for TLS servers, never the pages.
	if resp, err := http.Get("http://" + addr.String() + "/sessions"); err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the sessions are served over plain HTTP too")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stashflow-ui-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSessionLogs: a local-engine session's page shows each step's log
// tail and outputs from the run directory, escaped; an Argo session's page
// says where its logs are.
func TestSessionLogs(t *testing.T) {
	f := loadFixtures(t)
	c := testClient(t)
	ns := newNamespace(t, c, "logs")
	var session *unstructured.Unstructured
	for _, o := range mustParse(t, "objects.yaml") {
		if o.GetKind() == "BackupSession" && o.GetName() == "nightly-1" {
			session = o
		}
	}
	const run = "backupsession-nightly-1-0a1b2c3d"
	if err := unstructured.SetNestedMap(session.Object, map[string]any{"engine": "local", "name": run}, "status", "workflow"); err != nil {
		t.Fatal(err)
	}
	createObjects(t, c, ns, []*unstructured.Unstructured{session})
	workDir := t.TempDir()
	writeRun(t, filepath.Join(workDir, ns, run), map[string]map[string]string{
		"a-uitest-backup": {"tail.log": "backing up\n", "outputs.json": `{"snapshotID":"1a2b3c4d","size":"2048"}`},
		"a-uitest-check":  {"tail.log": "<script>alert(1)</script>\nerror: 3 packs missing\n"},
	})
	h := newTestServer(t, func(c *Config) { c.LocalWorkDir = workDir }).Handler()
	r := get(t, h, "/sessions/backupsession/"+ns+"/nightly-1")
	if r.code != http.StatusOK {
		t.Fatalf("GET = %d:\n%s", r.code, r.body)
	}
	for _, s := range []string{
		`<details class="steplog" id="log-a-uitest-check" data-step="a-uitest-check" open>`,
		"<div class=\"logbox\"><pre class=\"log\">&lt;script&gt;alert(1)&lt;/script&gt;\nerror: 3 packs missing\n</pre></div>",
		`<span class="what">last 2 lines</span>`,
		`<details class="steplog" id="log-a-uitest-backup" data-step="a-uitest-backup">`,
		`<tr data-output="snapshotID"><td class="mono">snapshotID</td><td class="mono msg">1a2b3c4d</td></tr>`,
		`<tr data-output="size"><td class="mono">size</td><td class="mono msg">2048</td></tr>`,
		`<td class="mono">a-uitest-check <a class="loglink" href="#log-a-uitest-check">log</a></td>`,
		`<a href="#step-a-uitest-check">details</a> · <a href="#log-a-uitest-check">log</a>`,
	} {
		if !strings.Contains(r.body, s) {
			t.Errorf("the page lacks %s", s)
		}
	}
	if strings.Contains(r.body, "<script>alert") {
		t.Error("the page holds the log's script unescaped")
	}

	// Argo: the outputs from the Workflow's nodes, and where the logs are.
	r = get(t, h, "/sessions/backupsession/"+f.ns1+"/nightly-1")
	if !strings.Contains(r.body, `<p class="note" id="logs-note">The Argo Workflow argo/nightly-1-x7k2p is gone: its steps&#39; outputs went with it. The step logs of Argo sessions are in the workflow&#39;s pods`) {
		t.Error("an Argo session whose Workflow is gone does not say so, and where its logs were")
	}
	argoSession := session.DeepCopy()
	argoSession.SetName("nightly-2")
	if err := unstructured.SetNestedMap(argoSession.Object, map[string]any{"engine": "argo", "name": "nightly-2-abcde", "namespace": ns}, "status", "workflow"); err != nil {
		t.Fatal(err)
	}
	createObjects(t, c, ns, []*unstructured.Unstructured{argoSession})
	value := wfv1.AnyStringPtr("1a2b3c4d")
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly-2-abcde"},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowFailed, Nodes: wfv1.Nodes{
			"n1": {ID: "n1", Name: "nightly-2-abcde.a-uitest-backup", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded,
				Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "snapshotID", Value: value}}}},
		}},
	}
	if err := c.Create(context.Background(), wf); err != nil {
		t.Fatal(err)
	}
	r = get(t, h, "/sessions/backupsession/"+ns+"/nightly-2")
	for _, s := range []string{
		`<p class="note" id="logs-note">Outputs from the Argo Workflow ` + ns + `/nightly-2-abcde. The step logs of Argo sessions are in the workflow&#39;s pods`,
		`<tr data-output="snapshotID"><td class="mono">snapshotID</td><td class="mono msg">1a2b3c4d</td></tr>`,
		`<tr data-output="size"><td class="mono">size</td><td class="mono msg"><span class="empty">not written</span></td></tr>`,
	} {
		if !strings.Contains(r.body, s) {
			t.Errorf("the Argo session's page lacks %s", s)
		}
	}
}
