package ui

import (
	"math"
	"slices"
)

// This file places a DAG's nodes for drawing, top to bottom, in the manner
// of Sugiyama: layers by longest path from the sources, edges longer than
// one layer broken by dummy nodes, barycentre sweeps to order each layer,
// then x coordinates that pull every node towards its neighbours without
// breaking the order (an isotonic regression per layer). It knows nothing
// of sessions: nodes are indexes, edges pairs of indexes.

// Geometry of a drawing, in SVG user units (pixels).
const (
	nodeWidth   = 220.0
	nodeHeight  = 84.0
	dummyWidth  = 10.0
	nodeGap     = 36.0 // between two real nodes of a layer
	dummyGap    = 14.0 // between a dummy and its neighbours
	layerGap    = 58.0 // between two layers
	margin      = 20.0
	sweeps      = 8 // barycentre sweeps, alternately down and up
	placeRounds = 8 // x placement rounds, alternately down and up
)

// shapeEdge is an edge from node From to node To (indexes).
type shapeEdge struct{ From, To int }

// placement is where a layout put the nodes and how the edges run.
type placement struct {
	// Layers lists the real nodes of each layer, top first, left to right.
	Layers [][]int
	// X and Y are the centres of the real nodes.
	X, Y []float64
	// Routes holds, per input edge, the points of its polyline: the bottom
	// centre of From, the top and bottom of each dummy, the top centre of To.
	Routes [][]point
	// Width and Height bound the drawing, margins included.
	Width, Height float64
}

type point struct{ X, Y float64 }

// vnode is a node of the layered graph: a real node or a dummy.
type vnode struct {
	real  int // index of the real node, -1 for a dummy
	layer int
	width float64
	preds []int // vnodes in the layer above
	succs []int // vnodes in the layer below
	x     float64
}

// layoutGraph places n nodes joined by edges. Self loops and repeated edges
// are ignored for placement (a repeated edge is routed like the first); an
// edge that closes a cycle is laid out as if reversed.
func layoutGraph(n int, edges []shapeEdge) placement {
	layer := layerNodes(n, edges)
	vs := make([]vnode, n)
	for i := range vs {
		vs[i] = vnode{real: i, layer: layer[i], width: nodeWidth}
	}
	// chains[e] is the vnode path of edge e, upper end first; nil for a self loop.
	chains := make([][]int, len(edges))
	seen := map[shapeEdge]int{}
	for e, ed := range edges {
		if ed.From == ed.To || ed.From < 0 || ed.To < 0 || ed.From >= n || ed.To >= n {
			continue
		}
		if prev, ok := seen[ed]; ok {
			chains[e] = chains[prev]
			continue
		}
		seen[ed] = e
		from, to := ed.From, ed.To
		if layer[from] > layer[to] {
			from, to = to, from
		}
		chain := []int{from}
		for l := layer[from] + 1; l < layer[to]; l++ {
			vs = append(vs, vnode{real: -1, layer: l, width: dummyWidth})
			chain = append(chain, len(vs)-1)
		}
		chain = append(chain, to)
		for k := 1; k < len(chain) && layer[from] < layer[to]; k++ {
			a, b := chain[k-1], chain[k]
			vs[a].succs = append(vs[a].succs, b)
			vs[b].preds = append(vs[b].preds, a)
		}
		// Chains run top to bottom; a reversed edge's route is turned below.
		chains[e] = chain
	}

	depth := 0
	for _, v := range vs {
		depth = max(depth, v.layer+1)
	}
	layers := make([][]int, depth)
	for i, v := range vs {
		layers[v.layer] = append(layers[v.layer], i)
	}
	layers = orderLayers(vs, layers)
	placeX(vs, layers)

	// Shift right so that the leftmost box starts at the margin.
	left := math.Inf(1)
	right := math.Inf(-1)
	for _, v := range vs {
		left = min(left, v.x-v.width/2)
		right = max(right, v.x+v.width/2)
	}
	if len(vs) == 0 {
		left, right = 0, 0
	}
	p := placement{X: make([]float64, n), Y: make([]float64, n), Routes: make([][]point, len(edges))}
	p.Width = right - left + 2*margin
	p.Height = float64(depth)*nodeHeight + float64(max(depth-1, 0))*layerGap + 2*margin
	top := func(l int) float64 { return margin + float64(l)*(nodeHeight+layerGap) }
	for i := range vs {
		vs[i].x += margin - left
	}
	for i := 0; i < n; i++ {
		p.X[i], p.Y[i] = vs[i].x, top(vs[i].layer)+nodeHeight/2
	}
	for _, l := range layers {
		var reals []int
		for _, v := range l {
			if vs[v].real >= 0 {
				reals = append(reals, vs[v].real)
			}
		}
		p.Layers = append(p.Layers, reals)
	}
	for e, chain := range chains {
		if chain == nil {
			continue
		}
		var pts []point
		for k, v := range chain {
			t, b := top(vs[v].layer), top(vs[v].layer)+nodeHeight
			switch {
			case k == 0:
				pts = append(pts, point{vs[v].x, b})
			case k == len(chain)-1:
				pts = append(pts, point{vs[v].x, t})
			default:
				pts = append(pts, point{vs[v].x, t}, point{vs[v].x, b})
			}
		}
		if layer[edges[e].From] > layer[edges[e].To] {
			// A cycle's back edge: drawn from the bottom of the upper node
			// to the top of the lower one, like the edge it stands for.
			slices.Reverse(pts)
		}
		p.Routes[e] = pts
	}
	return p
}

// layerNodes gives every node the length of the longest path from a source
// to it. Nodes are visited in topological order (Kahn's algorithm, lowest
// index first); nodes on a cycle are visited last, in index order, and
// their edges among themselves do not push layers.
func layerNodes(n int, edges []shapeEdge) []int {
	succs := make([][]int, n)
	indeg := make([]int, n)
	for _, e := range edges {
		if e.From == e.To || e.From < 0 || e.To < 0 || e.From >= n || e.To >= n {
			continue
		}
		succs[e.From] = append(succs[e.From], e.To)
		indeg[e.To]++
	}
	layer := make([]int, n)
	done := make([]bool, n)
	var ready []int
	for i := 0; i < n; i++ {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	visited := 0
	for visited < n {
		if len(ready) == 0 {
			// A cycle: take the lowest unvisited node and go on.
			for i := 0; i < n; i++ {
				if !done[i] {
					ready = append(ready, i)
					break
				}
			}
		}
		slices.Sort(ready)
		v := ready[0]
		ready = ready[1:]
		if done[v] {
			continue
		}
		done[v] = true
		visited++
		for _, w := range succs[v] {
			if done[w] {
				continue
			}
			layer[w] = max(layer[w], layer[v]+1)
			indeg[w]--
			if indeg[w] == 0 {
				ready = append(ready, w)
			}
		}
	}
	return layer
}

// orderLayers runs barycentre sweeps over the layers and returns the order
// with the fewest crossings seen (the first such on ties).
func orderLayers(vs []vnode, layers [][]int) [][]int {
	pos := make([]float64, len(vs))
	setPos := func(ls [][]int) {
		for _, l := range ls {
			for i, v := range l {
				pos[v] = float64(i)
			}
		}
	}
	best := cloneLayers(layers)
	setPos(layers)
	bestCrossings := crossings(vs, layers, pos)
	for s := 0; s < sweeps && bestCrossings > 0; s++ {
		down := s%2 == 0
		for k := 1; k < len(layers); k++ {
			l := k
			if !down {
				l = len(layers) - 1 - k
			}
			bary := make(map[int]float64, len(layers[l]))
			for _, v := range layers[l] {
				nbrs := vs[v].preds
				if !down {
					nbrs = vs[v].succs
				}
				if len(nbrs) == 0 {
					bary[v] = pos[v]
					continue
				}
				sum := 0.0
				for _, u := range nbrs {
					sum += pos[u]
				}
				bary[v] = sum / float64(len(nbrs))
			}
			slices.SortStableFunc(layers[l], func(a, b int) int {
				switch {
				case bary[a] < bary[b]:
					return -1
				case bary[a] > bary[b]:
					return 1
				}
				return 0
			})
			for i, v := range layers[l] {
				pos[v] = float64(i)
			}
		}
		if c := crossings(vs, layers, pos); c < bestCrossings {
			best, bestCrossings = cloneLayers(layers), c
		}
	}
	return best
}

func cloneLayers(ls [][]int) [][]int {
	out := make([][]int, len(ls))
	for i, l := range ls {
		out[i] = slices.Clone(l)
	}
	return out
}

// crossings counts the pairs of edges between adjacent layers that cross.
func crossings(vs []vnode, layers [][]int, pos []float64) int {
	total := 0
	for l := 0; l+1 < len(layers); l++ {
		var es [][2]float64
		for _, v := range layers[l] {
			for _, w := range vs[v].succs {
				es = append(es, [2]float64{pos[v], pos[w]})
			}
		}
		for i := range es {
			for j := i + 1; j < len(es); j++ {
				if (es[i][0]-es[j][0])*(es[i][1]-es[j][1]) < 0 {
					total++
				}
			}
		}
	}
	return total
}

// placeX gives every vnode an x: first packed and centred per layer, then
// rounds that move each node as close as the order allows to the mean x of
// its neighbours in the layer above (down rounds) or below (up rounds).
func placeX(vs []vnode, layers [][]int) {
	for _, l := range layers {
		x := 0.0
		for i, v := range l {
			if i > 0 {
				x += separation(vs, l[i-1], v)
			}
			vs[v].x = x
		}
		for _, v := range l {
			vs[v].x -= x / 2
		}
	}
	for r := 0; r < placeRounds; r++ {
		down := r%2 == 0
		for k := range layers {
			l := layers[k]
			if !down {
				l = layers[len(layers)-1-k]
			}
			want := make([]float64, len(l))
			for i, v := range l {
				nbrs := vs[v].preds
				if !down {
					nbrs = vs[v].succs
				}
				if len(nbrs) == 0 {
					want[i] = vs[v].x
					continue
				}
				sum := 0.0
				for _, u := range nbrs {
					sum += vs[u].x
				}
				want[i] = sum / float64(len(nbrs))
			}
			gaps := make([]float64, len(l))
			for i := 1; i < len(l); i++ {
				gaps[i] = separation(vs, l[i-1], l[i])
			}
			for i, x := range closestOrdered(want, gaps) {
				vs[l[i]].x = x
			}
		}
	}
}

// separation is the distance between the centres of neighbours a and b.
func separation(vs []vnode, a, b int) float64 {
	gap := nodeGap
	if vs[a].real < 0 || vs[b].real < 0 {
		gap = dummyGap
	}
	return (vs[a].width+vs[b].width)/2 + gap
}

// closestOrdered returns the x nearest to want (least squares) such that
// x[i] - x[i-1] >= gaps[i]. With c[i] the sum of gaps up to i and
// y[i] = x[i] - c[i], the constraint is y non-decreasing: an isotonic
// regression of want[i] - c[i], solved by pooling adjacent violators.
func closestOrdered(want, gaps []float64) []float64 {
	n := len(want)
	c := make([]float64, n)
	for i := 1; i < n; i++ {
		c[i] = c[i-1] + gaps[i]
	}
	type block struct {
		sum   float64
		count int
	}
	var blocks []block
	for i := 0; i < n; i++ {
		blocks = append(blocks, block{want[i] - c[i], 1})
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum/float64(a.count) <= b.sum/float64(b.count) {
				break
			}
			blocks = append(blocks[:len(blocks)-2], block{a.sum + b.sum, a.count + b.count})
		}
	}
	x := make([]float64, 0, n)
	for _, b := range blocks {
		mean := b.sum / float64(b.count)
		for k := 0; k < b.count; k++ {
			x = append(x, mean+c[len(x)])
		}
	}
	return x
}
