package ui

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// graph is a test graph: node names, and edges as "from>to".
type graph struct {
	nodes []string
	edges []string
}

func (g graph) shape(t *testing.T) []shapeEdge {
	t.Helper()
	index := map[string]int{}
	for i, n := range g.nodes {
		index[n] = i
	}
	var out []shapeEdge
	for _, e := range g.edges {
		var from, to string
		for i := range e {
			if e[i] == '>' {
				from, to = e[:i], e[i+1:]
			}
		}
		f, ok1 := index[from]
		tt, ok2 := index[to]
		if !ok1 || !ok2 {
			t.Fatalf("edge %q names an unknown node", e)
		}
		out = append(out, shapeEdge{f, tt})
	}
	return out
}

func names(g graph, layers [][]int) [][]string {
	out := [][]string{}
	for _, l := range layers {
		row := []string{}
		for _, v := range l {
			row = append(row, g.nodes[v])
		}
		out = append(out, row)
	}
	return out
}

func TestLayoutLayers(t *testing.T) {
	tests := []struct {
		name string
		g    graph
		want [][]string
	}{
		{
			// a ─▶ b ─▶ c
			name: "linear",
			g:    graph{nodes: []string{"a", "b", "c"}, edges: []string{"a>b", "b>c"}},
			want: [][]string{{"a"}, {"b"}, {"c"}},
		},
		{
			//     ┌▶ b ─┐
			//  a ─┤     ├▶ d
			//     └▶ c ─┘
			name: "diamond",
			g:    graph{nodes: []string{"a", "b", "c", "d"}, edges: []string{"a>b", "a>c", "b>d", "c>d"}},
			want: [][]string{{"a"}, {"b", "c"}, {"d"}},
		},
		{
			// Steps listed in any order end up in dependency order.
			//  a ─▶ b ─▶ c, listed c, b, a
			name: "reverse listing",
			g:    graph{nodes: []string{"c", "b", "a"}, edges: []string{"a>b", "b>c"}},
			want: [][]string{{"a"}, {"b"}, {"c"}},
		},
		{
			// A Parallel batch: the global pre hook, target A (pre hook,
			// two steps, post hook) and target B (two steps) side by
			// side, the global post hook after both.
			//
			//              ┌▶ a-pre ─▶ a-s1 ─▶ a-s2 ─▶ a-post ─┐
			//  global-pre ─┤                                   ├▶ global-post
			//              └▶ b-s1 ─▶ b-s2 ────────────────────┘
			name: "parallel batch",
			g: graph{
				nodes: []string{"global-pre", "a-pre", "a-s1", "a-s2", "a-post", "b-s1", "b-s2", "global-post"},
				edges: []string{
					"global-pre>a-pre", "a-pre>a-s1", "a-s1>a-s2", "a-s2>a-post",
					"global-pre>b-s1", "b-s1>b-s2",
					"a-post>global-post", "b-s2>global-post",
				},
			},
			want: [][]string{{"global-pre"}, {"a-pre", "b-s1"}, {"a-s1", "b-s2"}, {"a-s2"}, {"a-post"}, {"global-post"}},
		},
		{
			// A Sequential batch: B starts when A ended.
			//  a-s1 ─▶ a-s2 ─▶ b-s1 ─▶ b-s2 ─▶ global-post
			//            └───────────────────────▲ (global-post waits for A too)
			name: "sequential batch",
			g: graph{
				nodes: []string{"a-s1", "a-s2", "b-s1", "b-s2", "global-post"},
				edges: []string{"a-s1>a-s2", "a-s2>b-s1", "b-s1>b-s2", "a-s2>global-post", "b-s2>global-post"},
			},
			want: [][]string{{"a-s1"}, {"a-s2"}, {"b-s1"}, {"b-s2"}, {"global-post"}},
		},
		{
			// An OnFailure post hook waits for any of its target's steps:
			//  s1 ─▶ s2 ─▶ s3
			//  s1, s2, s3 ┈▶ post (AnyOf)
			name: "any-of post hook",
			g: graph{
				nodes: []string{"s1", "s2", "s3", "post"},
				edges: []string{"s1>s2", "s2>s3", "s1>post", "s2>post", "s3>post"},
			},
			want: [][]string{{"s1"}, {"s2"}, {"s3"}, {"post"}},
		},
		{
			// Barycentre ordering removes the crossing of the listing:
			//  a ─▶ d      a   b
			//  b ─▶ c      │   │
			//              d   c
			name: "crossing removed",
			g:    graph{nodes: []string{"a", "b", "c", "d"}, edges: []string{"a>d", "b>c"}},
			want: [][]string{{"a", "b"}, {"d", "c"}},
		},
		{
			name: "empty",
			g:    graph{},
			want: [][]string{},
		},
		{
			// A cycle cannot come from a validated graph; the layout
			// still terminates, deterministically.
			name: "cycle",
			g:    graph{nodes: []string{"a", "b", "c"}, edges: []string{"a>b", "b>c", "c>b"}},
			want: [][]string{{"a"}, {"b"}, {"c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edges := tt.g.shape(t)
			p := layoutGraph(len(tt.g.nodes), edges)
			if diff := cmp.Diff(tt.want, names(tt.g, p.Layers)); diff != "" {
				t.Errorf("layers (-want +got):\n%s", diff)
			}
			again := layoutGraph(len(tt.g.nodes), edges)
			if diff := cmp.Diff(p, again); diff != "" {
				t.Errorf("the layout is not deterministic (-first +second):\n%s", diff)
			}
			// Boxes of one layer do not overlap and sit inside the drawing.
			for _, l := range p.Layers {
				for k, v := range l {
					if x := p.X[v]; x-nodeWidth/2 < margin-0.01 || x+nodeWidth/2 > p.Width-margin+0.01 {
						t.Errorf("node %s at x=%.1f is outside the drawing (width %.1f)", tt.g.nodes[v], x, p.Width)
					}
					if k > 0 && p.X[v]-p.X[l[k-1]] < nodeWidth+nodeGap-0.01 {
						t.Errorf("nodes %s and %s overlap", tt.g.nodes[l[k-1]], tt.g.nodes[v])
					}
				}
			}
			// Every edge runs from its source's bottom to its target's top.
			for e, ed := range edges {
				r := p.Routes[e]
				if ed.From == ed.To {
					continue
				}
				if len(r) < 2 {
					t.Fatalf("edge %s has no route", tt.g.edges[e])
				}
				if !near(r[0], point{p.X[ed.From], p.Y[ed.From] + nodeHeight/2}) && !near(r[0], point{p.X[ed.From], p.Y[ed.From] - nodeHeight/2}) {
					t.Errorf("edge %s starts at %v, not at %s", tt.g.edges[e], r[0], tt.g.nodes[ed.From])
				}
				if last := r[len(r)-1]; !near(last, point{p.X[ed.To], p.Y[ed.To] - nodeHeight/2}) && !near(last, point{p.X[ed.To], p.Y[ed.To] + nodeHeight/2}) {
					t.Errorf("edge %s ends at %v, not at %s", tt.g.edges[e], last, tt.g.nodes[ed.To])
				}
			}
		})
	}
}

func near(a, b point) bool { return math.Abs(a.X-b.X) < 0.01 && math.Abs(a.Y-b.Y) < 0.01 }

// TestLayoutStraightChains checks the x placement: a chain is one straight
// column, a diamond is symmetric, and an edge spanning layers runs through
// one dummy per layer it crosses.
func TestLayoutStraightChains(t *testing.T) {
	chain := graph{nodes: []string{"a", "b", "c", "d"}, edges: []string{"a>b", "b>c", "c>d"}}
	p := layoutGraph(4, chain.shape(t))
	for i := range chain.nodes {
		if math.Abs(p.X[i]-p.X[0]) > 0.01 {
			t.Errorf("chain: x = %v, want one column", p.X)
			break
		}
	}

	diamond := graph{nodes: []string{"a", "b", "c", "d"}, edges: []string{"a>b", "a>c", "b>d", "c>d"}}
	p = layoutGraph(4, diamond.shape(t))
	if mid := (p.X[1] + p.X[2]) / 2; math.Abs(p.X[0]-mid) > 0.01 || math.Abs(p.X[3]-mid) > 0.01 {
		t.Errorf("diamond: x = %v, want a and d centred over b and c", p.X)
	}

	seq := graph{nodes: []string{"a", "b", "c", "d"}, edges: []string{"a>b", "b>c", "c>d", "a>d"}}
	p = layoutGraph(4, seq.shape(t))
	// a>d crosses the layers of b and c: start, two points per dummy, end.
	if got := len(p.Routes[3]); got != 6 {
		t.Errorf("a>d has %d points, want 6: %v", got, p.Routes[3])
	}
}

func TestClosestOrdered(t *testing.T) {
	tests := []struct {
		name       string
		want, gaps []float64
		out        []float64
	}{
		{"free", []float64{0, 100, 200}, []float64{0, 50, 50}, []float64{0, 100, 200}},
		{"all wanting one spot spread around it", []float64{0, 0, 0}, []float64{0, 10, 10}, []float64{-10, 0, 10}},
		{"a violation pooled with its neighbour", []float64{0, 5, 100}, []float64{0, 20, 20}, []float64{-7.5, 12.5, 100}},
		{"empty", []float64{}, []float64{}, []float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := closestOrdered(tt.want, tt.gaps)
			if diff := cmp.Diff(tt.out, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
