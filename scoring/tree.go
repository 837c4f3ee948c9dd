package scoring

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// treeNode is one node of a regression tree: an inner node sends a feature
// vector left when f[Feature] ≤ Threshold; a leaf (Left < 0) adds Value.
// In weights files a node is the array [feature, threshold, left, right,
// value].
type treeNode struct {
	Feature   int
	Threshold float64
	Left      int
	Right     int
	Value     float64
}

func (n treeNode) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("[%d,%s,%d,%d,%s]", n.Feature, fmtFloat(n.Threshold), n.Left, n.Right, fmtFloat(n.Value))), nil
}

func (n *treeNode) UnmarshalJSON(b []byte) error {
	var a []float64
	if err := jsonUnmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 5 {
		return errors.New("a tree node has 5 numbers")
	}
	for _, x := range []float64{a[0], a[2], a[3]} {
		if x != math.Trunc(x) || math.Abs(x) > 1<<20 {
			return fmt.Errorf("bad tree node %v", a)
		}
	}
	*n = treeNode{Feature: int(a[0]), Threshold: a[1], Left: int(a[2]), Right: int(a[3]), Value: a[4]}
	return nil
}

// evalTree returns the leaf value of t for f.
func evalTree(t []treeNode, f []float64) float64 {
	i := 0
	for t[i].Left >= 0 {
		if f[t[i].Feature] <= t[i].Threshold {
			i = t[i].Left
		} else {
			i = t[i].Right
		}
	}
	return t[i].Value
}

// checkTree validates a tree over nf features read from a file: indices in
// range, children after their parent (so evaluation always ends), finite
// numbers.
func checkTree(t []treeNode, nf int) error {
	if len(t) == 0 {
		return errors.New("empty tree")
	}
	for i, n := range t {
		if !finite(n.Threshold) || !finite(n.Value) {
			return fmt.Errorf("node %d: not finite", i)
		}
		if n.Left < 0 {
			continue
		}
		if n.Feature < 0 || n.Feature >= nf || n.Left <= i || n.Right <= i || n.Left >= len(t) || n.Right >= len(t) {
			return fmt.Errorf("node %d: bad feature or children", i)
		}
	}
	return nil
}

// boosting holds the settings of fitTrees: the number of trees, their depth,
// the shrinkage rate, the L2 penalty lambda on leaf values and the least
// Hessian weight a side of a split must hold.
type boosting struct {
	trees, depth          int
	rate, lambda, minHess float64
}

// Both trainers boost with a unit L2 penalty and at least 20 units of
// Hessian weight on each side of a split.
const (
	treeLambda  = 1
	treeMinHess = 20
)

// boosting returns the boosting settings of o.
func (o TrainOptions) boosting() boosting {
	return boosting{trees: o.Trees, depth: o.TreeDepth, rate: o.TreeRate, lambda: treeLambda, minHess: treeMinHess}
}

// boosting returns the boosting settings of o.
func (o VerifierTrainOptions) boosting() boosting {
	return boosting{trees: o.Trees, depth: o.TreeDepth, rate: o.TreeRate, lambda: treeLambda, minHess: treeMinHess}
}

// treeBins is the number of quantile bins fitTrees draws split candidates
// from.
const treeBins = 32

// fitTrees boosts depth-limited regression trees on the logistic loss,
// starting from the scores base (the linear model's out-of-fold outputs):
// second-order (Newton) leaves with an L2 penalty, split candidates at
// quantiles of each feature, shrinkage. Deterministic: ties between splits
// go to the lowest feature index, then the lowest threshold.
func fitTrees(x [][]float64, y, wt, base []float64, p boosting) [][]treeNode {
	n := len(x)
	tb := treeBuilder{
		boosting: p,
		x:        x,
		thr:      splitCandidates(x, treeBins),
		grad:     make([]float64, n),
		hess:     make([]float64, n),
		gl:       make([]float64, treeBins+1),
		hl:       make([]float64, treeBins+1),
	}
	F := append([]float64(nil), base...)
	var trees [][]treeNode
	for t := 0; t < p.trees; t++ {
		logisticGradients(F, y, wt, tb.grad, tb.hess)
		ix := make([]int, n)
		for i := range ix {
			ix[i] = i
		}
		tb.tree = nil
		tb.build(ix, 0)
		trees = append(trees, tb.tree)
		for i := range F {
			F[i] += evalTree(tb.tree, x[i])
		}
	}
	return trees
}

// splitCandidates returns, for each feature of x, the distinct values at the
// bins-quantiles below its maximum, ascending.
func splitCandidates(x [][]float64, bins int) [][]float64 {
	n := len(x)
	nf := len(x[0])
	thr := make([][]float64, nf)
	v := make([]float64, n)
	for j := 0; j < nf; j++ {
		for i := range x {
			v[i] = x[i][j]
		}
		sort.Float64s(v)
		for b := 1; b < bins; b++ {
			t := v[b*n/bins]
			if t < v[n-1] && (len(thr[j]) == 0 || t > thr[j][len(thr[j])-1]) {
				thr[j] = append(thr[j], t)
			}
		}
	}
	return thr
}

// logisticGradients sets grad and hess to the weighted first and second
// derivatives of the logistic loss at the scores F.
func logisticGradients(F, y, wt, grad, hess []float64) {
	for i := range F {
		p := 1 / (1 + math.Exp(-F[i]))
		grad[i] = wt[i] * (p - y[i])
		hess[i] = wt[i] * p * (1 - p)
	}
}

// treeBuilder grows one tree of fitTrees: the rows x, the split candidates
// thr, the current gradients and the per-bin sums gl, hl it reuses.
type treeBuilder struct {
	boosting
	x          [][]float64
	thr        [][]float64
	grad, hess []float64
	gl, hl     []float64
	tree       []treeNode
}

// build appends the node for the rows ix at depth d, and its subtree, to
// b.tree and returns the node's index.
func (b *treeBuilder) build(ix []int, d int) int {
	var G, H float64
	for _, i := range ix {
		G += b.grad[i]
		H += b.hess[i]
	}
	me := len(b.tree)
	b.tree = append(b.tree, treeNode{Left: -1, Right: -1, Value: round6(-b.rate * G / (H + b.lambda))})
	if d == b.depth {
		return me
	}
	bf, bt := b.bestSplit(ix, G, H)
	if bf < 0 {
		return me
	}
	var l, r []int
	for _, i := range ix {
		if b.x[i][bf] <= bt {
			l = append(l, i)
		} else {
			r = append(r, i)
		}
	}
	b.tree[me].Feature, b.tree[me].Threshold, b.tree[me].Value = bf, bt, 0
	li := b.build(l, d+1)
	ri := b.build(r, d+1)
	b.tree[me].Left, b.tree[me].Right = li, ri
	return me
}

// bestSplit returns the feature and threshold of the split of the rows ix
// (gradient sum G, Hessian sum H) with the largest gain, or feature -1 when
// no split gains.
func (b *treeBuilder) bestSplit(ix []int, G, H float64) (int, float64) {
	best, bf, bt := 1e-9, -1, 0.0
	parent := G * G / (H + b.lambda)
	for j, c := range b.thr {
		if len(c) == 0 {
			continue
		}
		clear(b.gl)
		clear(b.hl)
		for _, i := range ix {
			k := sort.SearchFloat64s(c, b.x[i][j]) // x ≤ c[k]
			b.gl[k] += b.grad[i]
			b.hl[k] += b.hess[i]
		}
		var GL, HL float64
		for k := range c {
			GL += b.gl[k]
			HL += b.hl[k]
			GR, HR := G-GL, H-HL
			if HL < b.minHess || HR < b.minHess {
				continue
			}
			if gain := GL*GL/(HL+b.lambda) + GR*GR/(HR+b.lambda) - parent; gain > best {
				best, bf, bt = gain, j, c[k]
			}
		}
	}
	return bf, bt
}
