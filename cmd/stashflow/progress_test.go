package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
)

// TestProgress: the same events give plain lines off a terminal, and on a
// terminal the same lines with a bar under them that is erased and drawn
// again around each line, and removed at the end.
func TestProgress(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := func(step string, phase pipeline.Phase, s float64, outputs map[string]string, msg string) localrun.Progress {
		return localrun.Progress{Session: "db-1", Steps: 3, Outputs: outputs,
			Event: local.Event{Step: step, Phase: phase, Time: at(s), Message: msg}}
	}
	events := []localrun.Progress{
		ev("pre-hook", pipeline.PhaseRunning, 0, nil, ""),
		ev("pre-hook", pipeline.PhaseSucceeded, 0.5, nil, ""),
		ev("etcd-backup", pipeline.PhaseRunning, 0.5, nil, ""),
		ev("etcd-backup", pipeline.PhaseSucceeded, 4, map[string]string{"size": "1048576", "uploaded": "524288"}, ""),
		ev("retention", pipeline.PhaseFailed, 4.5, nil, "exit status 1: wrong password"),
	}
	const (
		clear = "\r\x1b[K"
		bar0  = "[   0.0s] db-1 [........................] 0/3 steps  running: pre-hook 0s"
		bar1  = "[   0.0s] db-1 [########................] 1/3 steps"
		bar2  = "[   0.0s] db-1 [########................] 1/3 steps  running: etcd-backup 0s"
		bar3  = "[   0.0s] db-1 [################........] 2/3 steps"
		bar4  = "[   0.0s] db-1 [########################] 3/3 steps"
	)
	lines := []string{
		"[   0.0s] pre-hook                         Running  ",
		"[   0.5s] pre-hook                         Succeeded    0.5s",
		"[   0.5s] etcd-backup                      Running  ",
		"[   4.0s] etcd-backup                      Succeeded    3.5s  1.0 MiB (512 KiB new)",
		"[   4.5s] retention                        Failed     exit status 1: wrong password",
	}
	tests := []struct {
		name string
		tty  bool
		cols int
		want string
	}{
		{"plain", false, 80, strings.Join(lines, "\n") + "\n"},
		{"terminal", true, 120, lines[0] + "\n" + bar0 +
			clear + lines[1] + "\n" + bar1 +
			clear + lines[2] + "\n" + bar2 +
			clear + lines[3] + "\n" + bar3 +
			clear + lines[4] + "\n" + bar4 + clear},
		{"narrow terminal", true, 40, lines[0] + "\n" + bar0[:38] + "…" +
			clear + lines[1] + "\n" + bar1[:38] + "…" +
			clear + lines[2] + "\n" + bar2[:38] + "…" +
			clear + lines[3] + "\n" + bar3[:38] + "…" +
			clear + lines[4] + "\n" + bar4[:38] + "…" + clear},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgress(&buf, false) // no ticker: the test owns the clock
			p.start, p.now, p.tty, p.cols = t0, func() time.Time { return t0 }, tt.tty, func() int { return tt.cols }
			for _, e := range events {
				p.print(e)
			}
			p.hide()
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProgressSkippedWord: a step that did not run is "Skipped" on its
// line, the API's word (the session's status says the same), never the
// engine's "Omitted".
func TestProgressSkippedWord(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	var b strings.Builder
	p := newProgress(&b, false)
	p.start = t0
	for _, phase := range []pipeline.Phase{pipeline.PhaseOmitted, pipeline.PhaseSkipped} {
		got := p.line(localrun.Progress{Session: "db-1", Steps: 1, Event: local.Event{Step: "post-hook", Phase: phase, Time: t0, Message: "a dependency failed"}})
		if want := "[   0.0s] post-hook                        Skipped    a dependency failed"; got != want {
			t.Errorf("%s: %q, want %q", phase, got, want)
		}
	}
}
