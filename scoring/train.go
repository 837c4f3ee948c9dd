package scoring

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
)

// Example is one labelled request for Train: whether the cheap and the
// capable model answered it correctly.
type Example struct {
	Request        Request
	CheapCorrect   bool
	CapableCorrect bool
	// Weight scales the example in the regression; 0 means 1.
	Weight float64
	// Group optionally names the example's domain (a topic, a task type,
	// a source dataset). Groups train the domain classifier: a naive Bayes
	// model over the words of each group's prompts whose output, the gap
	// rate expected under the predicted group, is the domain_gap feature.
	// It learns to infer the domain of a request from its wording; scoring
	// never sees groups. Examples without a group do not train it.
	Group string
}

// Labels Train can fit.
const (
	// LabelGap: the capable model is right and the cheap one wrong (the
	// prompts where routing to the capable model pays).
	LabelGap = "gap"
	// LabelCheapWrong: the cheap model is wrong.
	LabelCheapWrong = "cheap-wrong"
)

// TrainOptions tunes Train. Zero fields take the defaults.
type TrainOptions struct {
	// Label is LabelGap (default) or LabelCheapWrong.
	Label string
	// Folds is the number of folds for the out-of-fold vocabulary feature
	// (default 5): the regression sees each example's vocabulary feature
	// computed from the other folds only, as it will on new traffic.
	Folds int
	// Smoothing is the pseudo-count pulling a word's gain toward the mean
	// (default 30).
	Smoothing float64
	// MinCount is the number of training prompts a word must appear in to
	// enter the vocabulary (default 5).
	MinCount int
	// L2 is the ridge penalty on the standardized weights (default 10).
	L2 float64
	// CDFPoints is the number of points of the percentile table (default 201).
	CDFPoints int
	// DomainSmoothing is the naive Bayes pseudo-count of the domain
	// classifier (default 0.01).
	DomainSmoothing float64
	// Trees is the number of boosted regression trees fitted on top of the
	// logistic regression (default 20; negative: none). They let the
	// features interact (a cue can matter for one kind of question and not
	// another).
	Trees int
	// TreeDepth is the depth of each tree (default 2).
	TreeDepth int
	// TreeRate is the boosting shrinkage (default 0.1).
	TreeRate float64
	// Fixed gives the weights (per raw feature unit, on the logit scale) of
	// features that are constant in the training data, so the data cannot
	// set them: conversation depth, tools, attachments. Nil means
	// DefaultFixedWeights(); features absent from both get weight 0.
	Fixed map[string]float64
}

// DefaultFixedWeights returns the priors Train gives the conversation
// features when the training data has no conversations, tools or
// attachments (as RouteLLM's data has none): stated assumptions, not fitted
// values. One more tool offered (log scale) weighs about as much as a few
// extra lines. Each call returns a new map, which the caller may change.
func DefaultFixedWeights() map[string]float64 {
	return map[string]float64{
		"log_history":     0.05,
		"log_turns":       0.10,
		"log_system":      0.05,
		"log_tools":       0.30,
		"log_tool_calls":  0.20,
		"log_attachments": 0.30,
	}
}

func (o *TrainOptions) defaults() error {
	setDefault(&o.Label, LabelGap)
	if o.Label != LabelGap && o.Label != LabelCheapWrong {
		return fmt.Errorf("scoring: unknown label %q", o.Label)
	}
	setDefault(&o.Folds, 5)
	setDefault(&o.Smoothing, 30)
	setDefault(&o.MinCount, 5)
	setDefault(&o.L2, 10)
	setDefault(&o.CDFPoints, 201)
	if o.Fixed == nil {
		o.Fixed = DefaultFixedWeights()
	}
	setDefault(&o.DomainSmoothing, 0.01)
	setDefault(&o.Trees, 20)
	setDefault(&o.TreeDepth, 2)
	setDefault(&o.TreeRate, 0.1)
	switch {
	case o.Folds < 2:
		return errors.New("scoring: Folds must be ≥ 2")
	case o.Smoothing < 0 || !finite(o.Smoothing):
		return errors.New("scoring: Smoothing must be ≥ 0")
	case o.MinCount < 1:
		return errors.New("scoring: MinCount must be ≥ 1")
	case o.L2 < 0 || !finite(o.L2):
		return errors.New("scoring: L2 must be ≥ 0")
	case o.CDFPoints < 2:
		return errors.New("scoring: CDFPoints must be ≥ 2")
	case !(o.DomainSmoothing > 0) || !finite(o.DomainSmoothing):
		return errors.New("scoring: DomainSmoothing must be > 0")
	case o.TreeDepth < 1 || o.TreeDepth > 8:
		return errors.New("scoring: TreeDepth must be in 1..8")
	case !(o.TreeRate > 0) || o.TreeRate > 1:
		return errors.New("scoring: TreeRate must be in (0,1]")
	}
	for name, w := range o.Fixed {
		if featureIndex(name) < 0 {
			return fmt.Errorf("scoring: Fixed: unknown feature %q", name)
		}
		if !finite(w) {
			return fmt.Errorf("scoring: Fixed: weight of %q is not finite", name)
		}
	}
	return nil
}

// setDefault sets *v to def when *v is the zero value.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func featureIndex(name string) int {
	for i, n := range featureNames {
		if n == name {
			return i
		}
	}
	return -1
}

// Train fits a Model on labelled examples. It is deterministic: the same
// examples in the same order with the same options give the same model
// (and the same MarshalJSON bytes). ctx is checked between stages.
//
// The stages: extract each example's features and label (newTrainSet);
// fill the two learned vocabulary features out of fold, so that the
// regression sees them as they will be on new traffic (vocabularyFeature,
// domainFeature); fit the logistic regression (fitLinear) and the boosted
// trees on top of it; map the raw scores to percentiles (setPercentiles).
func Train(ctx context.Context, examples []Example, opts TrainOptions) (*Model, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	ts, err := newTrainSet(examples, opts)
	if err != nil {
		return nil, err
	}
	ts.vocabularyFeature()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ts.domainFeature(ctx); err != nil {
		return nil, err
	}
	m := &Model{vocab: ts.vocabTable(-1), dom: ts.dom, info: trainInfo{
		Examples: len(examples), Target: opts.Label, Folds: opts.Folds,
		Smoothing: opts.Smoothing, MinCount: opts.MinCount, L2: opts.L2,
		Trees: max(opts.Trees, 0), TreeDepth: opts.TreeDepth, TreeRate: opts.TreeRate,
	}}
	if err := ts.fitLinear(m); err != nil {
		return nil, err
	}
	if opts.Trees > 0 {
		ts.fitTrees(m)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if err := ts.setPercentiles(m); err != nil {
		return nil, err
	}
	return m, nil
}

// trainSet is the training data as Train's stages read it.
type trainSet struct {
	opts     TrainOptions
	examples []Example
	feats    [][numFeatures]float64
	rows     [][]float64 // feats as slices, for the fitting code
	buckets  [][]uint32  // each prompt's distinct vocabulary buckets
	gain     []float64   // capable correct minus cheap correct
	label    []float64
	weight   []float64
	fold     []int
	dom      *domainModel
}

// newTrainSet extracts each example's features, label, weight and fold
// (the FNV-1a hash of its messages' text, modulo Folds).
func newTrainSet(examples []Example, opts TrainOptions) (*trainSet, error) {
	n := len(examples)
	if n < opts.Folds*2 {
		return nil, fmt.Errorf("scoring: %d examples, need at least %d", n, opts.Folds*2)
	}
	ts := &trainSet{
		opts: opts, examples: examples,
		feats: make([][numFeatures]float64, n), rows: make([][]float64, n), buckets: make([][]uint32, n),
		gain: make([]float64, n), label: make([]float64, n), weight: make([]float64, n), fold: make([]int, n),
	}
	for i := range examples {
		ex := &examples[i]
		if ex.Weight < 0 || !finite(ex.Weight) {
			return nil, fmt.Errorf("scoring: example %d: bad weight %v", i, ex.Weight)
		}
		ts.weight[i] = ex.Weight
		if ts.weight[i] == 0 {
			ts.weight[i] = 1
		}
		var bk []uint32
		extract(&ex.Request, nil, nil, &ts.feats[i], &bk)
		ts.rows[i] = ts.feats[i][:]
		ts.buckets[i] = bk
		ts.gain[i] = b2f(ex.CapableCorrect) - b2f(ex.CheapCorrect)
		switch opts.Label {
		case LabelGap:
			ts.label[i] = b2f(ex.CapableCorrect && !ex.CheapCorrect)
		case LabelCheapWrong:
			ts.label[i] = b2f(!ex.CheapCorrect)
		}
		h := fnv.New32a()
		for _, m := range ex.Request.Messages {
			_, _ = h.Write([]byte(m.Text))
		}
		ts.fold[i] = int(h.Sum32() % uint32(opts.Folds))
	}
	return ts, nil
}

// vocabTable is each word's smoothed mean gain (capable correct minus
// cheap correct) over the prompts that contain it, built without fold
// exclude (-1: from all).
func (ts *trainSet) vocabTable(exclude int) []float32 {
	var sum, cnt float64
	for i := range ts.examples {
		if ts.fold[i] == exclude {
			continue
		}
		sum += ts.gain[i]
		cnt++
	}
	mu := sum / max(cnt, 1)
	bn := make([]float64, vocabSize)
	bs := make([]float64, vocabSize)
	for i, bk := range ts.buckets {
		if ts.fold[i] == exclude {
			continue
		}
		for _, b := range bk {
			bn[b]++
			bs[b] += ts.gain[i]
		}
	}
	v := make([]float32, vocabSize)
	for b := range v {
		if bn[b] < float64(ts.opts.MinCount) {
			continue
		}
		v[b] = float32(round6((bs[b]+ts.opts.Smoothing*mu)/(bn[b]+ts.opts.Smoothing) - mu))
	}
	return v
}

// vocabularyFeature fills the vocabulary features of fold k from a table
// built without fold k.
func (ts *trainSet) vocabularyFeature() {
	for k := 0; k < ts.opts.Folds; k++ {
		tab := ts.vocabTable(k)
		for i := range ts.examples {
			if ts.fold[i] == k {
				setDomain(&ts.feats[i], ts.buckets[i], tab)
			}
		}
	}
}

// domainFeature trains the domain classifier over the examples' groups and
// fills the domain_gap feature out of fold, like the vocabulary. With fewer
// than two groups there is no classifier.
func (ts *trainSet) domainFeature(ctx context.Context) error {
	n := len(ts.examples)
	names := make([]string, n)
	for i := range ts.examples {
		names[i] = ts.examples[i].Group
	}
	classes := sortedNames(names)
	if len(classes) < 2 {
		return nil
	}
	if len(classes) > domainMaxClasses {
		return fmt.Errorf("scoring: %d groups, at most %d", len(classes), domainMaxClasses)
	}
	id := make(map[string]int, len(classes))
	for c, name := range classes {
		id[name] = c
	}
	class := make([]int, n)
	gapLabel := make([]float64, n)
	for i := range ts.examples {
		class[i] = -1
		if g := ts.examples[i].Group; g != "" {
			class[i] = id[g]
		}
		gapLabel[i] = b2f(ts.examples[i].CapableCorrect && !ts.examples[i].CheapCorrect)
	}
	var words [domainMaxWords]uint32
	for k := 0; k < ts.opts.Folds; k++ {
		d := buildDomain(classes, class, gapLabel, ts.buckets, func(i int) bool { return ts.fold[i] != k }, ts.opts.DomainSmoothing)
		if d == nil {
			continue
		}
		for i := range ts.examples {
			if ts.fold[i] == k {
				ts.feats[i][fDomainGap] = d.expectedGap(d.domainWords(ts.buckets[i], words[:0]))
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	ts.dom = buildDomain(classes, class, gapLabel, ts.buckets, func(int) bool { return true }, ts.opts.DomainSmoothing)
	return nil
}

// fitLinear fits m's bias and weights; features constant in the data take
// their Fixed prior.
func (ts *trainSet) fitLinear(m *Model) error {
	bias, w, err := fitLogistic(ts.rows, ts.label, ts.weight, ts.opts.L2)
	if err != nil {
		return err
	}
	m.bias = round6(bias)
	for j := range w {
		m.w[j] = round6(w[j])
	}
	for name, fw := range ts.opts.Fixed {
		j := featureIndex(name)
		if w[j] == 0 { // constant in the data: the prior applies
			m.w[j] = round6(fw)
		}
	}
	return nil
}

// fitTrees boosts trees on top of m's linear model, from its out-of-fold
// outputs.
func (ts *trainSet) fitTrees(m *Model) {
	base := make([]float64, len(ts.feats))
	for i := range ts.feats {
		base[i] = m.linear(&ts.feats[i])
	}
	m.trees = fitTrees(ts.rows, ts.label, ts.weight, base, ts.opts.boosting())
}

// setPercentiles builds m's percentile table from the out-of-fold raw
// scores: the distribution the model will see on new traffic like the
// training traffic.
func (ts *trainSet) setPercentiles(m *Model) error {
	n := len(ts.feats)
	raw := make([]float64, n)
	for i := range ts.feats {
		raw[i] = m.rawFeatures(&ts.feats[i])
	}
	sort.Float64s(raw)
	K := ts.opts.CDFPoints - 1
	for k := 0; k <= K; k++ {
		x := round6(raw[int(math.Round(float64(k)/float64(K)*float64(n-1)))])
		p := round6(float64(k) / float64(K))
		if len(m.cdfRaw) > 0 && x <= m.cdfRaw[len(m.cdfRaw)-1] {
			m.cdfPct[len(m.cdfPct)-1] = p // equal raw scores: keep the upper percentile
			continue
		}
		m.cdfRaw = append(m.cdfRaw, x)
		m.cdfPct = append(m.cdfPct, p)
	}
	if len(m.cdfRaw) < 2 {
		return errors.New("scoring: every training example has the same raw score")
	}
	return nil
}

// setDomain fills the vocabulary features from a prompt's distinct buckets,
// exactly as textStats.word does at scoring time.
func setDomain(f *[numFeatures]float64, bk []uint32, vocab []float32) {
	if len(bk) == 0 {
		f[fDomain], f[fDomainCover] = 0, 0
		return
	}
	var sum float64
	known := 0
	for _, b := range bk {
		if v := vocab[b]; v != 0 {
			sum += float64(v)
			known++
		}
	}
	d := float64(len(bk))
	f[fDomain] = sum / d
	f[fDomainCover] = float64(known) / d
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// fitLogistic fits a ridge logistic regression by Newton's method
// (iteratively reweighted least squares) on standardized features, and
// returns the bias and weights on the raw feature scale. Features constant
// in the data get weight 0.
func fitLogistic(x [][]float64, y, wt []float64, l2 float64) (float64, []float64, error) {
	sc := newStandardizer(x, wt)
	p := irls{z: sc.design(x), d: len(sc.cols) + 1, y: y, wt: wt, l2: l2}
	p.h = make([]float64, p.d*p.d)
	p.g = make([]float64, p.d)
	beta := make([]float64, p.d)
	for iter := 0; iter < 100; iter++ {
		p.newtonSystem(beta)
		step, err := solveSPD(p.h, p.g, p.d)
		if err != nil {
			return 0, nil, err
		}
		var maxStep float64
		for c := range beta {
			beta[c] += step[c]
			maxStep = math.Max(maxStep, math.Abs(step[c]))
		}
		if maxStep < 1e-10 {
			break
		}
	}
	bias, w := sc.unscale(beta, len(x[0]))
	if !finite(bias) {
		return 0, w, errors.New("scoring: the regression diverged")
	}
	return bias, w, nil
}

// standardizer holds the weighted mean and standard deviation of each
// feature, and the features that vary (sd > 1e-9), which fitLogistic fits.
type standardizer struct {
	mean, sd []float64
	cols     []int
}

// newStandardizer measures the features of x under the row weights wt.
func newStandardizer(x [][]float64, wt []float64) standardizer {
	nf := len(x[0])
	mean, sd := make([]float64, nf), make([]float64, nf)
	var sw float64
	for i := range x {
		sw += wt[i]
		for j := range mean {
			mean[j] += wt[i] * x[i][j]
		}
	}
	for j := range mean {
		mean[j] /= sw
	}
	for i := range x {
		for j := range sd {
			d := x[i][j] - mean[j]
			sd[j] += wt[i] * d * d
		}
	}
	var cols []int
	for j := range sd {
		sd[j] = math.Sqrt(sd[j] / sw)
		if sd[j] > 1e-9 {
			cols = append(cols, j)
		}
	}
	return standardizer{mean: mean, sd: sd, cols: cols}
}

// design returns the rows of x standardized, each led by a 1 for the bias:
// len(x) rows of len(s.cols)+1 values, row-major.
func (s standardizer) design(x [][]float64) []float64 {
	d := len(s.cols) + 1
	z := make([]float64, len(x)*d)
	for i := range x {
		row := z[i*d : (i+1)*d]
		row[0] = 1
		for c, j := range s.cols {
			row[c+1] = (x[i][j] - s.mean[j]) / s.sd[j]
		}
	}
	return z
}

// unscale turns the coefficients beta (bias first) on the standardized
// features into a bias and nf weights on the raw ones.
func (s standardizer) unscale(beta []float64, nf int) (float64, []float64) {
	w := make([]float64, nf)
	bias := beta[0]
	for c, j := range s.cols {
		w[j] = beta[c+1] / s.sd[j]
		bias -= w[j] * s.mean[j]
	}
	return bias, w
}

// irls is the ridge logistic regression fitLogistic solves: the design
// matrix z (d columns, bias first), labels y, row weights wt, the L2 penalty
// (not on the bias), and the Hessian h and gradient g of a Newton step.
type irls struct {
	z     []float64
	d     int
	y, wt []float64
	l2    float64
	h, g  []float64
}

// newtonSystem sets p.h and p.g to the Hessian and gradient of the
// penalized log-likelihood at beta.
func (p *irls) newtonSystem(beta []float64) {
	d, h, g := p.d, p.h, p.g
	clear(h)
	clear(g)
	for i := 0; i < len(p.z)/d; i++ {
		row := p.z[i*d : (i+1)*d]
		var eta float64
		for c, v := range row {
			eta += beta[c] * v
		}
		pr := 1 / (1 + math.Exp(-eta))
		r := p.wt[i] * (p.y[i] - pr)
		q := p.wt[i] * pr * (1 - pr)
		for a, va := range row {
			g[a] += r * va
			qa := q * va
			for b := a; b < d; b++ {
				h[a*d+b] += qa * row[b]
			}
		}
	}
	for a := 1; a < d; a++ {
		g[a] -= p.l2 * beta[a]
		h[a*d+a] += p.l2
	}
	h[0] += 1e-9
	for a := 0; a < d; a++ {
		for b := 0; b < a; b++ {
			h[a*d+b] = h[b*d+a]
		}
	}
}

// solveSPD solves a·x = b for a symmetric positive definite d×d matrix by
// Cholesky decomposition.
func solveSPD(a, b []float64, d int) ([]float64, error) {
	l := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*d+j]
			for k := 0; k < j; k++ {
				s -= l[i*d+k] * l[j*d+k]
			}
			if i == j {
				if s <= 0 || !finite(s) {
					return nil, errors.New("scoring: singular system in the regression")
				}
				l[i*d+i] = math.Sqrt(s)
			} else {
				l[i*d+j] = s / l[j*d+j]
			}
		}
	}
	y := make([]float64, d)
	for i := 0; i < d; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*d+k] * y[k]
		}
		y[i] = s / l[i*d+i]
	}
	x := make([]float64, d)
	for i := d - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < d; k++ {
			s -= l[k*d+i] * x[k]
		}
		x[i] = s / l[i*d+i]
	}
	return x, nil
}
