package ui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
)

var update = flag.Bool("update", false, "copy the browser test's screenshot into docs/images")

// chromiumPath is Debian's chromium, which hack/install-chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// TestBrowser runs a real BackupBatch session on the local engine under the
// operator's controllers, serves the UI from the same manager, and drives
// headless Chromium through it: the token exchange, the sessions page, the
// session page while it runs and after it finished (without a reload: the
// page's own refresh), the DAG's nodes and phases against the session's
// status, and the repositories page. It leaves screenshots behind.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing (%v): run hack/install-chromium.sh", chromiumPath, err)
	}
	c := testClient(t)
	ns := newNamespace(t, c, "browser")
	objs := mustParse(t, "browser.yaml")
	var session *unstructured.Unstructured
	var setup []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "BackupSession":
			session = o
		case "Repository":
			if err := unstructured.SetNestedField(o.Object, t.TempDir(), "spec", "backend", "local", "hostPath", "path"); err != nil {
				t.Fatal(err)
			}
			setup = append(setup, o)
		default:
			setup = append(setup, o)
		}
	}
	createObjects(t, c, ns, setup)

	// The operator: controllers on the local engine, and the UI, in one
	// manager that reads through its cache.
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "browser-test-token"
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(testEnv(t).Config, ctrl.Options{
		Scheme:  controllers.NewScheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Logger:  testr.NewWithOptions(t, testr.Options{Verbosity: 0}),
	})
	if err != nil {
		t.Fatal(err)
	}
	workDir := t.TempDir()
	if err := controllers.Setup(mgr, controllers.Config{
		Engine: v1alpha1.EngineLocal, WorkDir: workDir, SkipNameValidation: true,
		ReferenceGrace: time.Second, PollInterval: 500 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := Setup(mgr, Config{
		Options:         Options{BindAddress: "127.0.0.1:0", TokenFile: tokenFile},
		RefreshInterval: 500 * time.Millisecond,
		LocalWorkDir:    workDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stopManager := context.WithCancel(context.Background())
	managerDone := make(chan error, 1)
	go func() { managerDone <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		stopManager()
		if err := <-managerDone; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if a := srv.Addr(); a != nil {
			base = "http://" + a.String()
		}
	}
	if base == "" {
		t.Fatal("the UI did not listen")
	}

	// Chromium, started before the session so that it sees it run.
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(browserProfile(t)),
		chromedp.WindowSize(1280, 1000),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(browserErrorf(t)))
	defer cancelBrowser()
	// Close the browser the polite way first, so that it flushes its profile
	// and its helpers exit before the profile is removed.
	defer func() {
		if err := chromedp.Cancel(bctx); err != nil {
			t.Logf("closing chromium: %v", err)
		}
	}()
	// Chromium must die with this process, so chromedp starts it with a
	// parent-death signal (SIGKILL), which Linux sends when the *thread*
	// that forked chromium ends. Any goroutine that ends while locked to its
	// thread ends that thread (the local engine's steps did, until
	// internal/deathsig gave its threads back), and killed chromium mid-test
	// ("context canceled", chromium "signal: killed"). Fork it from a
	// goroutine locked to a thread of its own, kept until chromium has ended.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with chromium's
		started <- chromedp.Run(bctx, chromedp.Navigate("about:blank"))
		<-bctx.Done()
		chromedp.FromContext(bctx).Allocator.Wait()
	}()
	if err := <-started; err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}

	createObjects(t, c, ns, []*unstructured.Unstructured{session})
	name := session.GetName()
	row := fmt.Sprintf(`tr[data-session="BackupSession/%s/%s"]`, ns, name)

	// The token once in the address; the cookie from then on.
	var location string
	run(bctx, t, "open the sessions page with the token",
		chromedp.Navigate(base+"/sessions?namespace="+ns+"&token="+token),
		chromedp.WaitVisible(row+" a", chromedp.ByQuery),
		chromedp.Location(&location),
	)
	if strings.Contains(location, "token") {
		t.Errorf("the address still holds the token: %s", location)
	}

	var firstPhase string
	run(bctx, t, "open the session",
		// Clicked by the page itself, in one step: the page's refresh
		// replaces the row in place, and chromedp.Click (a query, then a
		// scroll and a mouse event on the node it found, several round
		// trips) failed when a refresh came in between ("Could not find
		// node with given id").
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).click()`, row+" a"), nil),
		chromedp.WaitVisible(`svg.dag g.node`, chromedp.ByQuery),
		chromedp.AttributeValue(`#session`, "data-phase", &firstPhase, nil, chromedp.ByQuery),
		// A mark that a reload would lose.
		chromedp.Evaluate(`window.stashflowTestMark = 42`, nil),
	)
	t.Logf("the session page first showed the session %s", firstPhase)

	run(bctx, t, "wait for the session to fail, on the same page",
		chromedp.WaitVisible(`#session[data-phase="Failed"]`, chromedp.ByQuery),
	)
	var mark int
	run(bctx, t, "read the mark", chromedp.Evaluate(`window.stashflowTestMark || 0`, &mark))
	switch {
	case firstPhase == "Failed":
		t.Log("the session had finished before the page opened: its live refresh was not seen")
	case mark != 42:
		t.Error("the page reloaded to show the finished session; it should refresh its parts in place")
	}

	// The DAG in the page, read through the DOM, against the status.
	var nodes [][]string
	run(bctx, t, "read the DAG",
		chromedp.Evaluate(`Array.from(document.querySelectorAll('svg.dag g.node')).map(g => [g.dataset.step, g.dataset.phase])`, &nodes),
	)
	got := map[string]string{}
	for _, n := range nodes {
		got[n[0]] = n[1]
	}
	bs := &v1alpha1.BackupSession{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, bs); err != nil {
		t.Fatal(err)
	}
	want := statusPhases(bs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DAG nodes in the page (-status +page):\n%s", diff)
	}
	// The shape the test's batch must have, so that a change in what ran
	// (not only in what the page shows) is noticed.
	wantPhases := map[string]string{
		"global-pre-backup": "Succeeded", "global-post-backup": "Succeeded",
		"orders-db-db-backup": "Succeeded", "orders-db-verify-snapshot": "Succeeded", "orders-db-post-backup": "Succeeded",
		"billing-db-db-backup": "Succeeded", "billing-db-upload-check": "Failed", "billing-db-prune-snapshots": "Skipped", "billing-db-post-backup": "Succeeded",
		"audit-log-db-backup": "Succeeded", "audit-log-verify-snapshot": "Succeeded",
	}
	if diff := cmp.Diff(wantPhases, got); diff != "" {
		t.Errorf("DAG nodes (-want +got):\n%s", diff)
	}
	var dashed, note int
	var stats string
	run(bctx, t, "read edges and statistics",
		chromedp.Evaluate(`document.querySelectorAll('svg.dag path.anyof').length`, &dashed),
		chromedp.Evaluate(`document.querySelectorAll('#graph-note').length`, &note),
		// SVG elements have no innerText, which chromedp.Text reads.
		chromedp.Evaluate(`document.querySelector('g.node[data-step="orders-db-db-backup"] .n-stats').textContent`, &stats),
	)
	if dashed != 3 {
		t.Errorf("%d dashed (AnyOf) edges, want 3: billing-db's OnFailure hook waits on any of its steps", dashed)
	}
	if note != 0 {
		t.Error("the page says the graph comes from the status alone")
	}
	if !strings.HasPrefix(stats, "snapshot ") || !strings.HasSuffix(stats, "50 MiB") {
		t.Errorf("orders-db's backup node shows %q, want its snapshot and size", stats)
	}

	// Why billing-db failed: on its node, and in the list of failures,
	// which links to the node.
	var failLine string
	var failures [][]string
	run(bctx, t, "read the failures",
		chromedp.Evaluate(`document.querySelector('g.node[data-step="billing-db-upload-check"] .n-fail').textContent`, &failLine),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('ol.failures li')).map(li => [li.dataset.failed, li.querySelector('a').getAttribute('href'), li.querySelector('.msg').textContent])`, &failures),
	)
	if !strings.HasPrefix(failLine, "exit code 1: upload check: 3 of") {
		t.Errorf("the failed node shows %q, want the start of its message", failLine)
	}
	var wantFailures [][]string
	for _, tg := range bs.Status.Targets {
		for _, s := range tg.Steps {
			if s.Phase == v1alpha1.StepFailed {
				wantFailures = append(wantFailures, []string{s.Name, "#node-" + s.Name, s.Message})
			}
		}
	}
	if len(wantFailures) == 0 || !strings.Contains(wantFailures[0][2], "3 of 1204 packs missing") {
		t.Errorf("the status's failures are %q, want billing-db's upload check with its log's last line", wantFailures)
	}
	if diff := cmp.Diff(wantFailures, failures); diff != "" {
		t.Errorf("the failures listed (-status +page):\n%s", diff)
	}

	// The failed step's log, unfolded: its last 200 lines, the password it
	// printed redacted; the backup step's outputs.
	var logText, outputs string
	var logOpen bool
	run(bctx, t, "read the logs",
		chromedp.Evaluate(`document.querySelector('details#log-billing-db-upload-check pre.log').textContent`, &logText),
		chromedp.Evaluate(`document.querySelector('details#log-billing-db-upload-check').open`, &logOpen),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('details#log-orders-db-db-backup tr[data-output]')).map(r => r.dataset.output + '=' + r.cells[1].textContent).join(' ')`, &outputs),
	)
	lines := strings.Split(strings.TrimSuffix(logText, "\n"), "\n")
	if len(lines) != 200 || lines[len(lines)-1] != "upload check: 3 of 1204 packs missing in the repository" || !logOpen {
		t.Errorf("the failed step's log shows %d lines ending %q (open %v); want its last 200, unfolded", len(lines), lines[len(lines)-1], logOpen)
	}
	if !strings.Contains(logText, "with password [redacted]") {
		t.Error("the failed step's log lacks the line with its password redacted")
	}
	if !strings.HasPrefix(outputs, "snapshotID=") || !strings.Contains(outputs, "size=52428800 uploaded=1048576 files=42 duration=1.2s") {
		t.Errorf("orders-db's backup step shows the outputs %q", outputs)
	}
	var html string
	run(bctx, t, "read the page", chromedp.OuterHTML(`html`, &html, chromedp.ByQuery))
	if strings.Contains(html, "browser-test-password-3f9a") {
		t.Error("the session page shows the repository's password")
	}

	// Screenshots: the page down to the graph's legend, and the whole page.
	var shot, full []byte
	var legendBottom float64
	run(bctx, t, "measure the page",
		chromedp.Evaluate(`document.querySelector('ul.legend').getBoundingClientRect().bottom + window.scrollY`, &legendBottom),
	)
	run(bctx, t, "take screenshots",
		chromedp.EmulateViewport(1280, int64(legendBottom)+18),
		chromedp.CaptureScreenshot(&shot),
		chromedp.FullScreenshot(&full, 100),
	)
	dir := artifactDir(t)
	save := func(file string, b []byte) {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	save("session-dag.png", shot)
	save("session-full.png", full)
	if *update {
		dst := filepath.Join(testEnv(t).RepoRoot, "docs", "images", "session-dag.png")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", dst)
	}

	// Back to the list: the row shows the final phase.
	var rowPhase string
	run(bctx, t, "the sessions page",
		chromedp.Navigate(base+"/sessions?namespace="+ns),
		chromedp.WaitVisible(row, chromedp.ByQuery),
		chromedp.AttributeValue(row, "data-phase", &rowPhase, nil, chromedp.ByQuery),
		chromedp.FullScreenshot(&full, 100),
	)
	save("sessions.png", full)
	if rowPhase != "Failed" {
		t.Errorf("the sessions page shows the session %s, want Failed", rowPhase)
	}

	// Repositories: a Snapshot object for every host that reported one
	// (billing-db's backup step succeeded before its check failed).
	var snapshots []string
	run(bctx, t, "the repository page",
		chromedp.Navigate(base+"/repositories/"+ns+"/repo"),
		chromedp.WaitVisible(`table.snapshots`, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('tr[data-snapshot]')).map(r => r.dataset.snapshot)`, &snapshots),
		chromedp.FullScreenshot(&full, 100),
	)
	save("repository.png", full)
	var wantIDs []string
	for _, tg := range bs.Status.Targets {
		for _, h := range tg.Stats {
			if h.SnapshotID != "" {
				wantIDs = append(wantIDs, h.SnapshotID)
			}
		}
	}
	if len(wantIDs) != 3 || !sameSet(snapshots, wantIDs) {
		t.Errorf("the repository page lists snapshots %v, want those of the three targets %v", snapshots, wantIDs)
	}
	var repoSessions []string
	run(bctx, t, "the repository's sessions",
		chromedp.Evaluate(`Array.from(document.querySelectorAll('table.sessions tr[data-session]')).map(r => r.dataset.session)`, &repoSessions),
	)
	if diff := cmp.Diff([]string{"BackupSession/" + ns + "/" + name}, repoSessions); diff != "" {
		t.Errorf("the repository page's sessions (-want +got):\n%s", diff)
	}

	// Schedules: the hourly configuration's next slot as its controller
	// wrote it, the batch's last session and its result.
	hourly := fmt.Sprintf(`tr[data-invoker="BackupConfiguration/%s/orders-hourly"]`, ns)
	batch := fmt.Sprintf(`tr[data-invoker="BackupBatch/%s/nightly"]`, ns)
	var nextShown, lastResult, lastSession string
	run(bctx, t, "the schedules page",
		chromedp.Navigate(base+"/schedules?namespace="+ns),
		// The page refreshes itself until the controller has written the slot.
		chromedp.WaitVisible(hourly+` td.next time`, chromedp.ByQuery),
		chromedp.AttributeValue(hourly+` td.next time`, "datetime", &nextShown, nil, chromedp.ByQuery),
		chromedp.AttributeValue(batch+` td[data-phase]`, "data-phase", &lastResult, nil, chromedp.ByQuery),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).textContent`, batch+` td:nth-child(7) a`), &lastSession),
		chromedp.Screenshot(`main`, &full, chromedp.ByQuery),
	)
	save("schedules.png", full)
	bc := &v1alpha1.BackupConfiguration{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "orders-hourly"}, bc); err != nil {
		t.Fatal(err)
	}
	if bc.Status.NextBackupTime == nil || nextShown != bc.Status.NextBackupTime.UTC().Format(time.RFC3339) {
		t.Errorf("the schedules page shows the next slot %q, the status has %v", nextShown, bc.Status.NextBackupTime)
	}
	if lastResult != "Failed" || lastSession != name {
		t.Errorf("the batch's last session is %q %s, want %s Failed", lastSession, lastResult, name)
	}
	if *update {
		for _, file := range []string{"session-full.png", "schedules.png"} {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(testEnv(t).RepoRoot, "docs", "images", file), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// browserErrorf logs chromedp's errors, except the events that this
// Chromium sends in a newer protocol than chromedp's cdproto knows (e.g. an
// IPAddressSpace "Loopback" in network events the test does not use).
func browserErrorf(t *testing.T) func(string, ...any) {
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if strings.HasPrefix(msg, "could not unmarshal event") {
			return
		}
		t.Log(msg)
	}
}

// run runs chromedp actions, failing the test with what it was doing.
func run(ctx context.Context, t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// statusPhases is every step and hook of a session's status, by name.
func statusPhases(bs *v1alpha1.BackupSession) map[string]string {
	out := map[string]string{}
	if g := bs.Status.GlobalHooks; g != nil {
		for _, h := range []*v1alpha1.HookStatus{g.PreBackup, g.PostBackup} {
			if h != nil {
				out[h.Name] = string(h.Phase)
			}
		}
	}
	for _, tg := range bs.Status.Targets {
		for _, h := range append(append([]v1alpha1.HookStatus{}, tg.PreBackupHooks...), tg.PostBackupHooks...) {
			out[h.Name] = string(h.Phase)
		}
		for _, s := range tg.Steps {
			out[s.Name] = string(s.Phase)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// browserProfile is chromium's user-data dir. It is not t.TempDir: chromium's
// helper processes may still write to it for a moment after the browser has
// gone, and t.TempDir fails the test when its removal meets a new file. The
// removal here retries for a few seconds and only logs what is left.
func browserProfile(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stashflow-ui-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if err = os.RemoveAll(dir); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Logf("leaving chromium's profile behind: %v", err)
		}
	})
	return dir
}
