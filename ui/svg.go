package ui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// drawing is a dag placed for the SVG template: boxes with their lines of
// text, and edge paths. Every string in it is plain text; the template
// escapes it.
type drawing struct {
	Width, Height int
	// NodeW and NodeH are every node's size.
	NodeW, NodeH float64
	Nodes        []drawnNode
	Edges        []drawnEdge
}

type drawnNode struct {
	Name, Title string
	Role, Hook  string
	Phase       string
	Target      string
	X, Y, W, H  float64
	Tooltip     string
	Subtitle    string
	Status      string // "Succeeded · 1.2s"
	Stats       string // "snapshot 1a2b3c4d · 2.0 KiB"
	// Failure is a failed node's message on one line, cut to fit.
	Failure string
}

type drawnEdge struct {
	From, To string
	D        string
	Class    string
	Tooltip  string
}

// Characters that fit on a node's lines (DejaVu Sans at the sizes of
// style.css is ≈ 7.5 px per character bold, ≈ 6.5 regular).
const (
	titleChars    = 26
	subtitleChars = 32
	failureChars  = 34
	// tooltipMessageChars bounds the message in a node's tooltip.
	tooltipMessageChars = 1000
)

// draw lays d out and turns it into a drawing.
func draw(d *dag, now time.Time) *drawing {
	index := make(map[string]int, len(d.Nodes))
	for i, n := range d.Nodes {
		index[n.Name] = i
	}
	var edges []shapeEdge
	var kept []dagEdge
	for _, e := range d.Edges {
		from, ok1 := index[e.From]
		to, ok2 := index[e.To]
		if !ok1 || !ok2 {
			continue
		}
		edges = append(edges, shapeEdge{from, to})
		kept = append(kept, e)
	}
	p := layoutGraph(len(d.Nodes), edges)
	out := &drawing{Width: int(math.Ceil(p.Width)), Height: int(math.Ceil(p.Height)), NodeW: nodeWidth, NodeH: nodeHeight}
	for i, n := range d.Nodes {
		out.Nodes = append(out.Nodes, drawnNode{
			Name: n.Name, Title: ellipsis(n.Title, titleChars), Role: n.Role, Hook: n.Hook,
			Phase: string(n.Phase), Target: n.TargetName,
			X: p.X[i] - nodeWidth/2, Y: p.Y[i] - nodeHeight/2, W: nodeWidth, H: nodeHeight,
			Tooltip:  nodeTooltip(&n, now),
			Subtitle: ellipsis(nodeSubtitle(&n), subtitleChars),
			Status:   nodeStatus(&n, now),
			Stats:    statsLine(n.Stats),
			Failure:  failureLine(&n),
		})
	}
	for k, e := range kept {
		pts := p.Routes[k]
		if len(pts) < 2 {
			continue
		}
		class := "edge when-" + strings.ToLower(string(e.When))
		kind := ""
		if e.AnyOf {
			class += " anyof"
			kind = ", one of several"
		}
		out.Edges = append(out.Edges, drawnEdge{
			From: e.From, To: e.To, D: pathData(pts), Class: class,
			Tooltip: fmt.Sprintf("%s → %s: runs %s%s", e.From, e.To, conditionText(e.When), kind),
		})
	}
	return out
}

func conditionText(c pipeline.Condition) string {
	switch c {
	case pipeline.OnSuccess:
		return "if it succeeded"
	case pipeline.OnFailure:
		return "if it failed"
	case pipeline.OnEnd:
		return "once it ended, whatever happened"
	}
	return string(c)
}

// pathData turns a route into an SVG path: straight through dummies'
// layers, a vertical S-curve between layers.
func pathData(pts []point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "M%.1f,%.1f", pts[0].X, pts[0].Y)
	for i := 1; i < len(pts); i++ {
		a, c := pts[i-1], pts[i]
		if a.X == c.X {
			fmt.Fprintf(&b, " L%.1f,%.1f", c.X, c.Y)
			continue
		}
		mid := (a.Y + c.Y) / 2
		fmt.Fprintf(&b, " C%.1f,%.1f %.1f,%.1f %.1f,%.1f", a.X, mid, c.X, mid, c.X, c.Y)
	}
	return b.String()
}

// nodeSubtitle says where a node belongs: its target (by name) and, for a
// step whose title is not its Function's name, the Function.
func nodeSubtitle(n *dagNode) string {
	var parts []string
	if n.Role == roleGlobalHook {
		parts = append(parts, "all targets")
	}
	if _, name, ok := strings.Cut(n.TargetName, "/"); ok && name != "" {
		parts = append(parts, name)
	}
	switch {
	case n.Role == roleHook || n.Role == roleGlobalHook:
		if n.Role == roleHook {
			parts = append(parts, "hook")
		}
		if p := policyText[n.Policy]; p != "" {
			parts = append(parts, p)
		}
	case n.Function != "" && (n.Function != n.Title || len(parts) == 0):
		parts = append(parts, "fn "+n.Function)
	case len(parts) == 0:
		parts = append(parts, "step")
	}
	return strings.Join(parts, " · ")
}

var policyText = map[string]string{"Always": "always", "OnSuccess": "on success", "OnFailure": "on failure"}

func nodeStatus(n *dagNode, now time.Time) string {
	s := string(n.Phase)
	if n.Status != nil {
		if d := stepDuration(n.Status.StartedAt, n.Status.FinishedAt, now); d != "" {
			s += " · " + d
		}
	}
	return s
}

// statsLine summarises a target's hosts: the snapshot and size of one host,
// or the number of hosts and their total size.
func statsLine(hosts []hostStats) string {
	var withID []hostStats
	for _, h := range hosts {
		if h.SnapshotID != "" {
			withID = append(withID, h)
		}
	}
	switch len(withID) {
	case 0:
		return ""
	case 1:
		s := "snapshot " + shortID(withID[0].SnapshotID)
		if withID[0].Size != nil {
			s += " · " + humanize.IBytes(uint64(*withID[0].Size))
		}
		return s
	}
	var total int64
	for _, h := range withID {
		if h.Size != nil {
			total += *h.Size
		}
	}
	return fmt.Sprintf("%d snapshots · %s", len(withID), humanize.IBytes(uint64(total)))
}

func nodeTooltip(n *dagNode, now time.Time) string {
	var b strings.Builder
	b.WriteString(n.Name)
	if n.Title != n.Name {
		b.WriteString(" (" + n.Title + ")")
	}
	b.WriteString("\n" + nodeSubtitle(n))
	if n.Role != roleStep && n.Hook != "" {
		b.WriteString("\n" + n.Hook + " hook")
		if n.Policy != "" {
			b.WriteString(", executionPolicy " + n.Policy)
		}
	}
	if n.TargetName != "" {
		b.WriteString("\ntarget " + n.TargetName)
	}
	b.WriteString("\nphase " + string(n.Phase))
	if st := n.Status; st != nil {
		if st.StartedAt != nil {
			b.WriteString("\nstarted " + metaTime(st.StartedAt))
		}
		if st.FinishedAt != nil {
			b.WriteString("\nfinished " + metaTime(st.FinishedAt))
		}
		if d := stepDuration(st.StartedAt, st.FinishedAt, now); d != "" {
			b.WriteString("\nduration " + d)
		}
	}
	if n.Message != "" {
		b.WriteString("\n\n" + ellipsis(n.Message, tooltipMessageChars))
	}
	for _, h := range n.Stats {
		b.WriteString("\n\nhost " + h.Hostname)
		if h.SnapshotID != "" {
			b.WriteString("\nsnapshot " + h.SnapshotID)
		}
		if h.Size != nil {
			b.WriteString("\nsize " + humanize.IBytes(uint64(*h.Size)))
		}
		if h.Uploaded != nil {
			b.WriteString("\nuploaded " + humanize.IBytes(uint64(*h.Uploaded)))
		}
		if h.Files != nil {
			fmt.Fprintf(&b, "\nfiles %d", *h.Files)
		}
		if h.Duration != "" {
			b.WriteString("\nduration " + h.Duration)
		}
	}
	return b.String()
}

// failureLine is what a failed node says of its failure on the graph: its
// message on one line, cut to fit the box; "" for other phases.
func failureLine(n *dagNode) string {
	if n.Phase != v1alpha1.StepFailed || n.Message == "" {
		return ""
	}
	return ellipsis(oneLine(n.Message), failureChars)
}

// oneLine joins the lines of s with " · " and drops control characters.
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.Join(lines, " · "))
}
