package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// Sessions shown at most on one page, by default and at most, and on a
// repository's page.
const (
	defaultLimit       = 200
	maxLimit           = 5000
	repositorySessions = 10
)

// sessionPhases are the phases the filter offers: BackupSession's and
// RestoreSession's together.
var sessionPhases = []string{"Pending", "Running", "Succeeded", "Failed", "Skipped", "Unknown", "Invalid"}

// pages renders the UI's pages.
type pages struct {
	s     *Server
	tmpls map[string]*template.Template
}

func newPages(s *Server) (*pages, error) {
	funcs := template.FuncMap{
		"phaseClass": func(p any) string { return strings.ToLower(fmt.Sprint(p)) },
		"px":         func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	}
	p := &pages{s: s, tmpls: map[string]*template.Template{}}
	for _, name := range []string{"sessions", "session", "repositories", "repository", "schedules", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/dag.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parsing the %s template: %w", name, err)
		}
		p.tmpls[name] = t
	}
	return p, nil
}

// view is what the layout template gets; Page is the page's own data.
type view struct {
	Title string
	Nav   string
	// Live pages refresh themselves every Refresh milliseconds (render
	// sets it from the configuration).
	Live    bool
	Refresh int
	Updated string
	Page    any
}

func (p *pages) render(w http.ResponseWriter, r *http.Request, code int, name string, v view) {
	if v.Live {
		v.Refresh = int(p.s.cfg.RefreshInterval / time.Millisecond)
	}
	v.Updated = p.s.cfg.Now().UTC().Format("15:04:05Z")
	var buf bytes.Buffer
	if err := p.tmpls[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.s.cfg.Logger.Error(err, "Rendering a page", "page", name, "path", r.URL.Path)
		http.Error(w, "500 internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail renders the error page.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	p.render(w, r, code, "error", view{Title: http.StatusText(code), Page: struct {
		Code    int
		Status  string
		Message string
	}{code, http.StatusText(code), msg}})
}

// failErr maps a read error: NotFound is 404, anything else 500.
func (p *pages) failErr(w http.ResponseWriter, r *http.Request, what string, err error) {
	if apierrors.IsNotFound(err) {
		p.fail(w, r, http.StatusNotFound, what+" not found")
		return
	}
	p.s.cfg.Logger.Error(err, "Reading for a page", "path", r.URL.Path)
	p.fail(w, r, http.StatusInternalServerError, fmt.Sprintf("reading %s: %v", what, err))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// ---- the sessions page ------------------------------------------------

// sessionFilter is the sessions page's query.
type sessionFilter struct {
	Namespace string
	Kind      string
	Phase     string
	// Invoker is a backup's invoker, "Kind/name" (in Namespace).
	Invoker string
	// Repository is "namespace/name": the sessions that back up into it
	// or restore from it.
	Repository string
	Limit      int
}

func (f sessionFilter) Filtered() bool {
	return f.Namespace != "" || f.Kind != "" || f.Phase != "" || f.Invoker != "" || f.Repository != ""
}

func parseFilter(r *http.Request) (sessionFilter, error) {
	q := r.URL.Query()
	f := sessionFilter{Namespace: q.Get("namespace"), Phase: q.Get("phase"), Invoker: q.Get("invoker"), Repository: q.Get("repository"), Limit: defaultLimit}
	if ns, name, ok := strings.Cut(f.Repository, "/"); f.Repository != "" && (!ok || ns == "" || name == "") {
		return f, fmt.Errorf("repository %q: want namespace/name", f.Repository)
	}
	if kind, name, ok := strings.Cut(f.Invoker, "/"); f.Invoker != "" && (!ok || name == "" || kind != "BackupConfiguration" && kind != "BackupBatch") {
		return f, fmt.Errorf("invoker %q: want BackupConfiguration/name or BackupBatch/name", f.Invoker)
	}
	if k := q.Get("kind"); k != "" {
		kind := kindByName(k)
		if kind == nil {
			return f, fmt.Errorf("unknown kind %q: want BackupSession, RestoreSession or RestoreBatch", k)
		}
		f.Kind = kind.Name
	}
	if f.Phase != "" && !slices.Contains(sessionPhases, f.Phase) {
		return f, fmt.Errorf("unknown phase %q: want one of %s", f.Phase, strings.Join(sessionPhases, ", "))
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return f, fmt.Errorf("limit %q: want a positive number", l)
		}
		f.Limit = min(n, maxLimit)
	}
	return f, nil
}

// sessionRow is one line of the sessions table, and of /api/sessions.
type sessionRow struct {
	Namespace string    `json:"namespace"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Invoker   string    `json:"invoker"`
	Phase     string    `json:"phase"`
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message,omitempty"`
	Started   time.Time `json:"started"`
	Duration  string    `json:"duration,omitempty"`
	Engine    string    `json:"engine,omitempty"`
	URL       string    `json:"url"`
}

func (r sessionRow) StartedText() string { return formatTime(r.Started) }
func (r sessionRow) StartedISO() string  { return r.Started.UTC().Format(time.RFC3339) }

// sessionList is the data of the sessions page.
type sessionList struct {
	Filter     sessionFilter
	Namespaces []string
	Kinds      []string
	Phases     []string
	Rows       []sessionRow
	// Total is how many sessions match, Rows holding the newest Limit.
	Total int
}

func (p *pages) listSessions(r *http.Request, f sessionFilter) (*sessionList, error) {
	kinds := sessionKinds
	if f.Kind != "" {
		kinds = []*sessionKind{kindByName(f.Kind)}
	}
	// Every namespace is listed, so that the filter can offer them all;
	// the cache answers without copying (nothing here writes).
	recs, err := listSessions(r.Context(), p.s.cfg.Client, kinds, "")
	if err != nil {
		return nil, err
	}
	out := &sessionList{Filter: f, Phases: sessionPhases}
	for _, k := range sessionKinds {
		out.Kinds = append(out.Kinds, k.Name)
	}
	namespaces := sets.New[string]()
	if f.Namespace != "" {
		namespaces.Insert(f.Namespace)
	}
	var invokers map[string]*invoker
	if f.Repository != "" {
		invs, err := listInvokers(r.Context(), p.s.cfg.Client, "")
		if err != nil {
			return nil, err
		}
		invokers = map[string]*invoker{}
		for _, inv := range invs {
			invokers[inv.key()] = inv
		}
	}
	now := p.s.cfg.Now()
	for _, rec := range recs {
		namespaces.Insert(rec.Namespace)
		if f.Namespace != "" && rec.Namespace != f.Namespace || f.Phase != "" && rec.PhaseOrNew() != f.Phase ||
			f.Invoker != "" && rec.Invoker != f.Invoker ||
			f.Repository != "" && repositoryOf(rec, invokers) != f.Repository {
			continue
		}
		out.Rows = append(out.Rows, rowOf(rec, now))
	}
	out.Namespaces = sets.List(namespaces)
	slices.SortFunc(out.Rows, func(a, b sessionRow) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Kind+"/"+a.Name, b.Namespace+"/"+b.Kind+"/"+b.Name)
	})
	out.Total = len(out.Rows)
	if len(out.Rows) > f.Limit {
		out.Rows = out.Rows[:f.Limit]
	}
	return out, nil
}

// rowOf is a session's row in the sessions table.
func rowOf(rec *record, now time.Time) sessionRow {
	return sessionRow{
		Namespace: rec.Namespace, Kind: rec.Kind.Name, Name: rec.Name, Invoker: rec.Invoker,
		Phase: rec.PhaseOrNew(), Reason: rec.Reason, Message: rec.Message,
		Started: rec.Created, Duration: rec.Elapsed(now), Engine: string(rec.Engine()), URL: rec.URL(),
	}
}

func (p *pages) sessions(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		p.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	list, err := p.listSessions(r, f)
	if err != nil {
		p.failErr(w, r, "sessions", err)
		return
	}
	p.render(w, r, http.StatusOK, "sessions", view{Title: "Sessions", Nav: "sessions", Live: true, Page: list})
}

func (p *pages) sessionsJSON(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := p.listSessions(r, f)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	rows := list.Rows
	if rows == nil {
		rows = []sessionRow{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": rows, "total": list.Total})
}

// ---- the session page -------------------------------------------------

// sessionView is the data of a session's page.
type sessionView struct {
	Rec     *record
	DAG     *dag
	Drawing *drawing
	Steps   []stepRow
	// Failures are every failed step and hook, in graph order.
	Failures []failureRow
	// Files are the steps' log tails and outputs; FilesNote says why
	// there are none.
	Files       []stepFiles
	FilesNote   string
	Hosts       []hostRow
	Conditions  []v1alpha1.Condition
	WorkflowURL string
	Started     string
	Elapsed     string
}

type stepRow struct {
	Name, Target, Kind, Function, Phase string
	Started, Finished, Duration         string
	Message                             string
	// Log: the page has the step's log or outputs.
	Log bool
}

// failureRow is one failed step or hook: its node, its target and its message.
type failureRow struct {
	Name, Title, Target, Kind, Message string
	Log                                bool
}

type hostRow struct {
	Target, Hostname, Phase, SnapshotID string
	Size, Uploaded, Files, Duration     string
	Error                               string
}

func (p *pages) loadSession(r *http.Request) (*record, int, error) {
	kind := kindByName(r.PathValue("kind"))
	if kind == nil {
		return nil, http.StatusNotFound, fmt.Errorf("unknown session kind %q: want backupsession, restoresession or restorebatch", r.PathValue("kind"))
	}
	rec, err := getSession(r.Context(), p.s.cfg.Client, kind, r.PathValue("namespace"), r.PathValue("name"))
	switch {
	case apierrors.IsNotFound(err):
		return nil, http.StatusNotFound, fmt.Errorf("%s %s/%s not found", kind.Name, r.PathValue("namespace"), r.PathValue("name"))
	case err != nil:
		p.s.cfg.Logger.Error(err, "Reading a session", "path", r.URL.Path)
		return nil, http.StatusInternalServerError, fmt.Errorf("reading %s %s/%s: %w", kind.Name, r.PathValue("namespace"), r.PathValue("name"), err)
	}
	return rec, http.StatusOK, nil
}

func (p *pages) session(w http.ResponseWriter, r *http.Request) {
	rec, code, err := p.loadSession(r)
	if err != nil {
		p.fail(w, r, code, err.Error())
		return
	}
	now := p.s.cfg.Now()
	d := sessionDAG(rec)
	v := &sessionView{
		Rec: rec, DAG: d, Drawing: draw(d, now), Conditions: rec.Conditions,
		WorkflowURL: p.workflowURL(rec), Started: formatTime(rec.Created), Elapsed: rec.Elapsed(now),
	}
	v.Files, v.FilesNote = p.stepFilesOf(r.Context(), rec, d)
	hasFiles := sets.New[string]()
	for _, f := range v.Files {
		hasFiles.Insert(f.Name)
	}
	for _, n := range d.Nodes {
		row := stepRow{Name: n.Name, Target: n.TargetName, Function: n.Function, Phase: string(n.Phase), Message: n.Message, Log: hasFiles.Has(n.Name)}
		switch n.Role {
		case roleGlobalHook:
			row.Kind = "global hook · " + n.Hook
		case roleHook:
			row.Kind = "hook · " + n.Hook
		default:
			row.Kind = "step"
		}
		if st := n.Status; st != nil {
			row.Started, row.Finished = metaTime(st.StartedAt), metaTime(st.FinishedAt)
			row.Duration = stepDuration(st.StartedAt, st.FinishedAt, now)
		}
		v.Steps = append(v.Steps, row)
		if n.Phase == v1alpha1.StepFailed {
			v.Failures = append(v.Failures, failureRow{Name: n.Name, Title: n.Title, Target: n.TargetName, Kind: row.Kind, Message: n.Message, Log: row.Log})
		}
	}
	for _, t := range rec.Targets {
		tn := ""
		if t.Ref != nil {
			tn = targetName(*t.Ref)
		}
		for _, h := range t.Stats {
			row := hostRow{Target: tn, Hostname: h.Hostname, Phase: string(h.Phase), SnapshotID: h.SnapshotID, Duration: h.Duration, Error: h.Error}
			if h.Size != nil {
				row.Size = humanize.IBytes(uint64(*h.Size))
			}
			if h.Uploaded != nil {
				row.Uploaded = humanize.IBytes(uint64(*h.Uploaded))
			}
			if h.Files != nil {
				row.Files = strconv.FormatInt(*h.Files, 10)
			}
			v.Hosts = append(v.Hosts, row)
		}
	}
	p.render(w, r, http.StatusOK, "session", view{Title: rec.Kind.Name + " " + rec.Namespace + "/" + rec.Name, Nav: "sessions", Live: !rec.Finished(), Page: v})
}

// workflowURL links the session's workflow in the Argo UI: the status's
// uiURL, else one made from --argo-ui-base-url for Argo workflows.
func (p *pages) workflowURL(rec *record) string {
	wf := rec.Workflow
	if wf == nil {
		return ""
	}
	if wf.UIURL != "" {
		if strings.HasPrefix(wf.UIURL, "https://") || strings.HasPrefix(wf.UIURL, "http://") {
			return wf.UIURL
		}
		return ""
	}
	if wf.Engine == v1alpha1.EngineArgo && p.s.cfg.ArgoUIBaseURL != "" && wf.Name != "" {
		ns := wf.Namespace
		if ns == "" {
			ns = rec.Namespace
		}
		return strings.TrimRight(p.s.cfg.ArgoUIBaseURL, "/") + "/workflows/" + ns + "/" + wf.Name
	}
	return ""
}

// nodeJSON and edgeJSON are the graph in /api/sessions/{kind}/{ns}/{name}.
type nodeJSON struct {
	Name       string       `json:"name"`
	Role       string       `json:"role"`
	Hook       string       `json:"hook,omitempty"`
	Target     string       `json:"target,omitempty"`
	Function   string       `json:"function,omitempty"`
	Phase      string       `json:"phase"`
	Message    string       `json:"message,omitempty"`
	StartedAt  *metav1.Time `json:"startedAt,omitempty"`
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	Layer      int          `json:"layer"`
}

type edgeJSON struct {
	From  string `json:"from"`
	To    string `json:"to"`
	When  string `json:"when"`
	AnyOf bool   `json:"anyOf,omitempty"`
}

func (p *pages) sessionJSON(w http.ResponseWriter, r *http.Request) {
	rec, code, err := p.loadSession(r)
	if err != nil {
		jsonError(w, code, err.Error())
		return
	}
	d := sessionDAG(rec)
	layers := dagLayers(d)
	out := struct {
		Kind       string     `json:"kind"`
		Namespace  string     `json:"namespace"`
		Name       string     `json:"name"`
		Phase      string     `json:"phase"`
		FromStatus bool       `json:"graphFromStatus"`
		Note       string     `json:"note,omitempty"`
		Nodes      []nodeJSON `json:"nodes"`
		Edges      []edgeJSON `json:"edges"`
	}{Kind: rec.Kind.Name, Namespace: rec.Namespace, Name: rec.Name, Phase: rec.PhaseOrNew(), FromStatus: d.FromStatus, Note: d.Note,
		Nodes: []nodeJSON{}, Edges: []edgeJSON{}}
	for _, n := range d.Nodes {
		nj := nodeJSON{Name: n.Name, Role: n.Role, Hook: n.Hook, Target: n.TargetName, Function: n.Function,
			Phase: string(n.Phase), Message: n.Message, Layer: layers[n.Name]}
		if n.Status != nil {
			nj.StartedAt, nj.FinishedAt = n.Status.StartedAt, n.Status.FinishedAt
		}
		out.Nodes = append(out.Nodes, nj)
	}
	for _, e := range d.Edges {
		out.Edges = append(out.Edges, edgeJSON{From: e.From, To: e.To, When: string(e.When), AnyOf: e.AnyOf})
	}
	writeJSON(w, http.StatusOK, out)
}

// dagLayers is the layer of every node of d.
func dagLayers(d *dag) map[string]int {
	index := map[string]int{}
	for i, n := range d.Nodes {
		index[n.Name] = i
	}
	var edges []shapeEdge
	for _, e := range d.Edges {
		from, ok1 := index[e.From]
		to, ok2 := index[e.To]
		if ok1 && ok2 {
			edges = append(edges, shapeEdge{from, to})
		}
	}
	out := map[string]int{}
	for i, l := range layerNodes(len(d.Nodes), edges) {
		out[d.Nodes[i].Name] = l
	}
	return out
}

// ---- the repositories pages ------------------------------------------

type repositoryRow struct {
	Namespace, Name, Backend string
	SnapshotCount            int64
	TotalSize                string
	LastBackup               string
	Integrity                string
	Ready, ReadyMessage      string
	SnapshotObjects          int
	URL                      string
	RemovedOnLastCleanup     int64
	FirstBackup              string
	StorageSecret            string
	Conditions               []v1alpha1.Condition
	AllowedFrom              string
}

func repositoryRowOf(repo *v1alpha1.Repository, snapshots int) repositoryRow {
	st := repo.Status
	row := repositoryRow{
		Namespace: repo.Namespace, Name: repo.Name, Backend: orQuestion(repo.Spec.Backend.Provider()),
		SnapshotCount: st.SnapshotCount, TotalSize: st.TotalSize, LastBackup: metaTime(st.LastBackupTime),
		FirstBackup: metaTime(st.FirstBackupTime), SnapshotObjects: snapshots,
		URL:                  "/repositories/" + repo.Namespace + "/" + repo.Name,
		RemovedOnLastCleanup: st.SnapshotsRemovedOnLastCleanup,
		Conditions:           st.Conditions, AllowedFrom: string(repo.Spec.AllowedFrom()),
	}
	if st.Integrity != nil {
		row.Integrity = strconv.FormatBool(*st.Integrity)
	}
	for _, c := range st.Conditions {
		if c.Type == "Ready" {
			row.Ready, row.ReadyMessage = string(c.Status), c.Message
		}
	}
	return row
}

// snapshotsOf groups Snapshot objects by their Repository (namespace/name).
func snapshotsOf(list []v1alpha1.Snapshot) map[string][]*v1alpha1.Snapshot {
	out := map[string][]*v1alpha1.Snapshot{}
	for i := range list {
		s := &list[i]
		key := s.Spec.Repository.NamespaceOr(s.Namespace) + "/" + s.Spec.Repository.Name
		out[key] = append(out[key], s)
	}
	return out
}

func (p *pages) repositories(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	ctx := r.Context()
	// The cache answers without copying: nothing here writes.
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	repos := &v1alpha1.RepositoryList{}
	if err := p.s.cfg.Client.List(ctx, repos, opts...); err != nil {
		p.failErr(w, r, "repositories", err)
		return
	}
	snaps := &v1alpha1.SnapshotList{}
	if err := p.s.cfg.Client.List(ctx, snaps, opts...); err != nil {
		p.failErr(w, r, "snapshots", err)
		return
	}
	by := snapshotsOf(snaps.Items)
	var rows []repositoryRow
	for i := range repos.Items {
		repo := &repos.Items[i]
		rows = append(rows, repositoryRowOf(repo, len(by[repo.Namespace+"/"+repo.Name])))
	}
	slices.SortFunc(rows, func(a, b repositoryRow) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	p.render(w, r, http.StatusOK, "repositories", view{Title: "Repositories", Nav: "repositories", Live: true, Page: struct {
		Namespace string
		Rows      []repositoryRow
	}{ns, rows}})
}

type snapshotRow struct {
	Name, ID, ShortID, Hostname, Time, Size, Session, Paths, Tags, Verified string
}

func (p *pages) repository(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	ctx := r.Context()
	repo := &v1alpha1.Repository{}
	if err := p.s.cfg.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, repo); err != nil {
		p.failErr(w, r, "Repository "+ns+"/"+name, err)
		return
	}
	snaps := &v1alpha1.SnapshotList{}
	if err := p.s.cfg.Client.List(ctx, snaps, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		p.failErr(w, r, "snapshots", err)
		return
	}
	mine := snapshotsOf(snaps.Items)[ns+"/"+name]
	slices.SortFunc(mine, func(a, b *v1alpha1.Snapshot) int {
		var ta, tb time.Time
		if a.Spec.Time != nil {
			ta = a.Spec.Time.Time
		}
		if b.Spec.Time != nil {
			tb = b.Spec.Time.Time
		}
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var rows []snapshotRow
	for _, s := range mine {
		row := snapshotRow{Name: s.Name, ID: s.Spec.SnapshotID, ShortID: shortID(s.Spec.SnapshotID), Hostname: s.Spec.Hostname,
			Time: metaTime(s.Spec.Time), Session: s.Spec.Session, Paths: strings.Join(s.Spec.Paths, ", "), Tags: strings.Join(s.Spec.Tags, ", ")}
		if s.Spec.Size != nil {
			row.Size = humanize.IBytes(uint64(*s.Spec.Size))
		}
		if s.Status.Verified != nil {
			row.Verified = strconv.FormatBool(*s.Status.Verified)
		}
		rows = append(rows, row)
	}
	sessions, err := p.listSessions(r, sessionFilter{Repository: ns + "/" + name, Limit: repositorySessions})
	if err != nil {
		p.failErr(w, r, "sessions", err)
		return
	}
	p.render(w, r, http.StatusOK, "repository", view{Title: "Repository " + ns + "/" + name, Nav: "repositories", Live: true, Page: struct {
		Repo      repositoryRow
		Snapshots []snapshotRow
		Sessions  *sessionList
	}{repositoryRowOf(repo, len(mine)), rows, sessions}})
}

// orQuestion shows "?" for an empty value.
func orQuestion(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
