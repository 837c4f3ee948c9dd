package scoring

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
)

// DefaultThreshold is the threshold a router compares Default's scores with
// when the user sets none: Default's scores are percentiles of reference
// traffic, so 0.80 sends about the top 20% of reference-like traffic to the
// capable model.
const DefaultThreshold = 0.80

// weightsFormat identifies the weights file layout.
const weightsFormat = "baar-scoring/v2"

//go:embed weights.json
var defaultWeights []byte

// defaultModel is Default's model, parsed once.
var defaultModel = sync.OnceValues(func() (*Model, error) { return NewModel(defaultWeights) })

// Default returns the built-in scorer: a model trained by cmd/baar-train on
// the train split of RouteLLM's GSM8K and MMLU labels, embedded in the
// binary. It is offline, deterministic and safe for concurrent use.
//
// Its score is a calibrated percentile: the model's raw output mapped through
// the empirical distribution of raw outputs on the training prompts, so a
// score ≥ 0.80 means "harder than about 80% of the reference traffic" and the
// default threshold (DefaultThreshold) sends about 20% of such traffic to the
// capable model. On other traffic use Calibrate to pick a threshold for a
// target share.
func Default() Scorer {
	m, err := defaultModel()
	if err != nil {
		err = fmt.Errorf("scoring: embedded weights: %w", err)
		return ScorerFunc(func(context.Context, Request) (float64, error) { return 0, err })
	}
	return m
}

// Model is a trained scorer: engineered features of the conversation plus a
// learned vocabulary (domain) feature, combined by logistic regression, and
// mapped to a percentile of the training traffic. Create it with NewModel
// (from a weights file) or Train. It is safe for concurrent use.
type Model struct {
	bias   float64
	w      [numFeatures]float64
	vocab  []float32 // vocabSize entries, or nil
	dom    *domainModel
	trees  [][]treeNode
	cdfRaw []float64 // increasing raw scores
	cdfPct []float64 // non-decreasing percentiles in [0,1]
	info   trainInfo
}

var _ Scorer = (*Model)(nil)

// Score rates req: a percentile in [0,1] of the training traffic's raw
// scores. It fails only when ctx is done.
func (m *Model) Score(ctx context.Context, req Request) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return m.percentile(m.raw(&req)), nil
}

// raw is the model's logit for req: the lower of the logits of req and of
// req without the segments of its focus message addressed to the scorer
// (guard.go).
func (m *Model) raw(req *Request) float64 {
	var f [numFeatures]float64
	var d guardDrops
	extractFocus(req, nil, m.vocab, m.dom, &f, nil, &d)
	z := m.rawFeatures(&f)
	if d.n == 0 {
		return z
	}
	s := d.strip(req.Messages[focusIndex(req.Messages)].Text)
	extractFocus(req, &s, m.vocab, m.dom, &f, nil, nil)
	return min(z, m.rawFeatures(&f))
}

// rawFeatures is the model's logit: the linear part plus the trees.
func (m *Model) rawFeatures(f *[numFeatures]float64) float64 {
	z := m.linear(f)
	for _, t := range m.trees {
		z += evalTree(t, f[:])
	}
	return z
}

func (m *Model) linear(f *[numFeatures]float64) float64 {
	z := m.bias
	for i, v := range f {
		z += m.w[i] * v
	}
	return z
}

// percentile maps a raw score through the piecewise-linear empirical CDF.
func (m *Model) percentile(x float64) float64 {
	r, p := m.cdfRaw, m.cdfPct
	if math.IsNaN(x) || len(r) == 0 {
		return 0
	}
	if x <= r[0] {
		return p[0]
	}
	if x >= r[len(r)-1] {
		return p[len(p)-1]
	}
	i := sort.SearchFloat64s(r, x) // r[i-1] < x <= r[i]
	f := (x - r[i-1]) / (r[i] - r[i-1])
	return p[i-1] + f*(p[i]-p[i-1])
}

// weightsFile is the JSON layout of a weights file.
type weightsFile struct {
	Format   string          `json:"format"`
	Model    string          `json:"model"`
	Trained  trainInfo       `json:"trained"`
	Bias     float64         `json:"bias"`
	Features []featureWeight `json:"features"`
	Buckets  int             `json:"vocab_buckets"`
	Vocab    [][2]float64    `json:"vocab"`
	Domain   *domainFile     `json:"domain,omitempty"`
	Trees    [][]treeNode    `json:"trees,omitempty"`
	CDF      [][2]float64    `json:"cdf"`
}

type featureWeight struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

type trainInfo struct {
	Examples  int     `json:"examples"`
	Target    string  `json:"target"`
	Folds     int     `json:"folds"`
	Smoothing float64 `json:"smoothing"`
	MinCount  int     `json:"min_count"`
	L2        float64 `json:"l2"`
	Trees     int     `json:"trees"`
	TreeDepth int     `json:"tree_depth"`
	TreeRate  float64 `json:"tree_rate"`
}

// NewModel parses a weights file written by cmd/baar-train (or
// Model.MarshalJSON).
func NewModel(weights []byte) (*Model, error) {
	var wf weightsFile
	if err := decodeWeights(weights, &wf, "weights", &wf.Format, weightsFormat); err != nil {
		return nil, err
	}
	m := &Model{info: wf.Trained}
	if err := readLinear("weights", wf.Bias, wf.Features, featureNames[:], &m.bias, m.w[:]); err != nil {
		return nil, err
	}
	if len(wf.Vocab) > 0 {
		if wf.Buckets != vocabSize {
			return nil, fmt.Errorf("scoring: weights: %d vocabulary buckets, want %d", wf.Buckets, vocabSize)
		}
		m.vocab = make([]float32, vocabSize)
		for _, e := range wf.Vocab {
			b := e[0]
			if b < 0 || b >= vocabSize || b != math.Trunc(b) || !finite(e[1]) {
				return nil, fmt.Errorf("scoring: weights: bad vocabulary entry %v", e)
			}
			m.vocab[int(b)] = float32(e[1])
		}
	}
	if wf.Domain != nil {
		d, err := domainFromFile(wf.Domain)
		if err != nil {
			return nil, fmt.Errorf("scoring: weights: %w", err)
		}
		m.dom = d
	}
	for i, t := range wf.Trees {
		if err := checkTree(t, int(numFeatures)); err != nil {
			return nil, fmt.Errorf("scoring: weights: tree %d: %w", i, err)
		}
	}
	m.trees = wf.Trees
	if len(wf.CDF) < 2 {
		return nil, errors.New("scoring: weights: the cdf needs at least 2 points")
	}
	for i, e := range wf.CDF {
		if !finite(e[0]) || !finite(e[1]) || e[1] < 0 || e[1] > 1 {
			return nil, fmt.Errorf("scoring: weights: bad cdf point %v", e)
		}
		if i > 0 && (e[0] <= wf.CDF[i-1][0] || e[1] < wf.CDF[i-1][1]) {
			return nil, fmt.Errorf("scoring: weights: cdf not increasing at point %d", i)
		}
		m.cdfRaw = append(m.cdfRaw, e[0])
		m.cdfPct = append(m.cdfPct, e[1])
	}
	return m, nil
}

// decodeWeights decodes a weights file (what names it in errors) into v,
// rejecting unknown fields, and checks that its format, read into *format,
// is want.
func decodeWeights(b []byte, v any, what string, format *string, want string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("scoring: %s: %w", what, err)
	}
	if *format != want {
		return fmt.Errorf("scoring: %s format %q, want %q", what, *format, want)
	}
	return nil
}

// readLinear checks a weights file's bias and feature weights against the
// expected feature names and stores them in bias and w.
func readLinear(what string, b float64, fws []featureWeight, names []string, bias *float64, w []float64) error {
	if !finite(b) {
		return fmt.Errorf("scoring: %s: bias is not finite", what)
	}
	if len(fws) != len(names) {
		return fmt.Errorf("scoring: %s: %d features, want %d", what, len(fws), len(names))
	}
	for i, fw := range fws {
		if fw.Name != names[i] {
			return fmt.Errorf("scoring: %s: feature %d is %q, want %q", what, i, fw.Name, names[i])
		}
		if !finite(fw.Weight) {
			return fmt.Errorf("scoring: %s: feature %q weight is not finite", what, fw.Name)
		}
		w[i] = fw.Weight
	}
	*bias = b
	return nil
}

// MarshalJSON writes m as a weights file. The output is deterministic: the
// same model always gives the same bytes.
func (m *Model) MarshalJSON() ([]byte, error) {
	wf := weightsFile{
		Format:  weightsFormat,
		Model:   "logistic regression plus boosted trees on engineered features, a learned vocabulary feature and a naive Bayes domain feature; score = empirical CDF of raw scores on the training prompts",
		Trained: m.info,
		Bias:    m.bias,
		Buckets: vocabSize,
		Vocab:   [][2]float64{},
	}
	for i, name := range featureNames {
		wf.Features = append(wf.Features, featureWeight{Name: name, Weight: m.w[i]})
	}
	for b, v := range m.vocab {
		if v != 0 {
			wf.Vocab = append(wf.Vocab, [2]float64{float64(b), round6(float64(v))})
		}
	}
	if m.dom != nil {
		wf.Domain = m.dom.file()
	}
	wf.Trees = m.trees
	for i := range m.cdfRaw {
		wf.CDF = append(wf.CDF, [2]float64{m.cdfRaw[i], m.cdfPct[i]})
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(wf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// fmtFloat formats x as the shortest JSON number that reads back exactly.
func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// round6 keeps 6 significant digits, so weights files stay small and diffs
// readable.
func round6(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 6, 64), 64)
	return v
}
