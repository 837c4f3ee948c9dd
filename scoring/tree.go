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

// fitTrees boosts depth-limited regression trees on the logistic loss,
// starting from the scores base (the linear model's out-of-fold outputs):
// second-order (Newton) leaves with an L2 penalty lambda, split candidates
// at quantiles of each feature, shrinkage rate. Deterministic: ties between
// splits go to the lowest feature index, then the lowest threshold.
func fitTrees(x [][]float64, y, wt, base []float64, nTrees, depth int, rate, lambda, minHess float64) [][]treeNode {
	const bins = 32
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
	F := append([]float64(nil), base...)
	grad := make([]float64, n)
	hess := make([]float64, n)
	var trees [][]treeNode
	gl := make([]float64, bins+1)
	hl := make([]float64, bins+1)
	for t := 0; t < nTrees; t++ {
		for i := range F {
			p := 1 / (1 + math.Exp(-F[i]))
			grad[i] = wt[i] * (p - y[i])
			hess[i] = wt[i] * p * (1 - p)
		}
		var tree []treeNode
		var build func(ix []int, d int) int
		build = func(ix []int, d int) int {
			var G, H float64
			for _, i := range ix {
				G += grad[i]
				H += hess[i]
			}
			me := len(tree)
			tree = append(tree, treeNode{Left: -1, Right: -1, Value: round6(-rate * G / (H + lambda))})
			if d == depth {
				return me
			}
			best, bf, bt := 1e-9, -1, 0.0
			parent := G * G / (H + lambda)
			for j := 0; j < nf; j++ {
				c := thr[j]
				if len(c) == 0 {
					continue
				}
				clear(gl)
				clear(hl)
				for _, i := range ix {
					b := sort.SearchFloat64s(c, x[i][j]) // x ≤ c[b]
					gl[b] += grad[i]
					hl[b] += hess[i]
				}
				var GL, HL float64
				for b := range c {
					GL += gl[b]
					HL += hl[b]
					GR, HR := G-GL, H-HL
					if HL < minHess || HR < minHess {
						continue
					}
					if gain := GL*GL/(HL+lambda) + GR*GR/(HR+lambda) - parent; gain > best {
						best, bf, bt = gain, j, c[b]
					}
				}
			}
			if bf < 0 {
				return me
			}
			var l, r []int
			for _, i := range ix {
				if x[i][bf] <= bt {
					l = append(l, i)
				} else {
					r = append(r, i)
				}
			}
			tree[me].Feature, tree[me].Threshold, tree[me].Value = bf, bt, 0
			li := build(l, d+1)
			ri := build(r, d+1)
			tree[me].Left, tree[me].Right = li, ri
			return me
		}
		ix := make([]int, n)
		for i := range ix {
			ix[i] = i
		}
		build(ix, 0)
		trees = append(trees, tree)
		for i := range F {
			F[i] += evalTree(tree, x[i])
		}
	}
	return trees
}
