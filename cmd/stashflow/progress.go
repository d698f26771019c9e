package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/term"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/pipeline"
)

// progress shows a run's step events: a line per event, and on a terminal
// also a bar under them, redrawn in place, with the steps ended out of the
// session's total and the running ones with their elapsed time.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	now   func() time.Time
	began map[string]time.Time

	// The bar's state, for a terminal.
	tty      bool
	cols     func() int // the terminal's width; the bar is cut to fit
	session  string
	steps    int
	ended    map[string]bool
	running  map[string]time.Time
	drawn    bool
	stopTick chan struct{}
	ticking  sync.WaitGroup
}

// barRefresh is how often the bar's clocks move while nothing happens.
const barRefresh = 250 * time.Millisecond

func newProgress(w io.Writer, tty bool) *progress {
	p := &progress{w: w, start: time.Now(), now: time.Now, began: map[string]time.Time{}, tty: tty,
		ended: map[string]bool{}, running: map[string]time.Time{}, cols: func() int { return termWidth(w) }}
	if tty {
		p.stopTick = make(chan struct{})
		p.ticking.Add(1)
		go p.tick()
	}
	return p
}

// isTerminal reports whether w is a terminal that can redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// termWidth is w's width in columns, 80 if unknown.
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if c, _, err := term.GetSize(int(f.Fd())); err == nil && c > 0 {
			return c
		}
	}
	return 80
}

func (p *progress) tick() {
	defer p.ticking.Done()
	t := time.NewTicker(barRefresh)
	defer t.Stop()
	for {
		select {
		case <-p.stopTick:
			return
		case <-t.C:
			p.mu.Lock()
			if p.drawn {
				p.clearBar()
				p.drawBar()
			}
			p.mu.Unlock()
		}
	}
}

// hide removes the bar until the next event; nil-safe.
func (p *progress) hide() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearBar()
}

// stop removes the bar for good; the event lines stay.
func (p *progress) stop() {
	if !p.tty {
		return
	}
	close(p.stopTick)
	p.ticking.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearBar()
}

func (p *progress) print(e localrun.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Phase == pipeline.PhaseRunning {
		p.began[e.Step] = e.Time
	}
	line := p.line(e)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	if e.Session != p.session {
		p.session, p.ended, p.running = e.Session, map[string]bool{}, map[string]time.Time{}
	}
	p.steps = e.Steps
	switch {
	case e.Phase == pipeline.PhaseRunning:
		p.running[e.Step] = e.Time
	case e.Phase.Completed():
		delete(p.running, e.Step)
		p.ended[e.Step] = true
	}
	p.clearBar()
	fmt.Fprintln(p.w, line)
	p.drawBar()
}

// line is one event: elapsed time, step, phase, and for finished restic
// steps the bytes they moved.
func (p *progress) line(e localrun.Progress) string {
	line := fmt.Sprintf("[%6.1fs] %-32s %-9s", e.Time.Sub(p.start).Seconds(), e.Step, phaseWord(e.Phase))
	if b, ok := p.began[e.Step]; ok && e.Phase.Completed() {
		line += fmt.Sprintf(" %6.1fs", e.Time.Sub(b).Seconds())
	}
	if e.Attempt > 1 {
		line += fmt.Sprintf(" attempt %d", e.Attempt)
	}
	if size := e.Outputs["size"]; size != "" {
		line += "  " + outputBytes(size)
		if up := e.Outputs["uploaded"]; up != "" {
			line += " (" + outputBytes(up) + " new)"
		}
	}
	if e.Message != "" && e.Phase != pipeline.PhaseSucceeded && e.Phase != pipeline.PhaseRunning {
		line += "  " + e.Message
	}
	return line
}

// outputBytes prints a step's byte-count output in IEC units ("1.0 MiB"),
// or as it is when it is not a count.
func outputBytes(v string) string {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return v
	}
	return humanize.IBytes(n)
}

// barWidth is the number of cells of the bar itself.
const barWidth = 24

// drawBar writes the bar on the current (empty) line, without a newline.
func (p *progress) drawBar() {
	now := p.now()
	done := len(p.ended)
	total := max(p.steps, done)
	filled := 0
	if total > 0 {
		filled = done * barWidth / total
	}
	bar := fmt.Sprintf("[%6.1fs] %s [%s%s] %d/%d steps", now.Sub(p.start).Seconds(), p.session,
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), done, total)
	if len(p.running) > 0 {
		names := make([]string, 0, len(p.running))
		for n := range p.running {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			names[i] = fmt.Sprintf("%s %.0fs", n, max(now.Sub(p.running[n]), 0).Seconds())
		}
		bar += "  running: " + strings.Join(names, ", ")
	}
	// A bar wider than the terminal would wrap, and the next redraw
	// would leave its first part behind.
	if r := []rune(bar); len(r) > p.cols()-1 {
		bar = string(r[:max(p.cols()-2, 0)]) + "…"
	}
	fmt.Fprint(p.w, bar)
	p.drawn = true
}

// clearBar erases the bar's line and leaves the cursor at its start.
func (p *progress) clearBar() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// phaseWord is a step's phase in the API's words: a step that did not run
// is Skipped (v1alpha1.StepSkipped), as the session's status says, whether
// the engine called it Omitted (its condition could not hold) or Skipped.
func phaseWord(p pipeline.Phase) string {
	if p == pipeline.PhaseOmitted {
		return string(v1alpha1.StepSkipped)
	}
	return string(p)
}
