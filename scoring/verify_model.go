package scoring

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
)

// verifierFormat identifies the verifier weights file layout.
const verifierFormat = "baar-verifier/v1"

//go:embed verifier_weights.json
var defaultVerifierWeights []byte

// defaultVerifier is DefaultVerifier's model, parsed once.
var defaultVerifier = sync.OnceValues(func() (*VerifierModel, error) { return NewVerifierModel(defaultVerifierWeights) })

// DefaultVerifier returns the built-in verifier: a model of the doubt that
// one answer is correct, trained by TrainVerifier (cmd/baar-train
// --verifier-out) on the train split of RouteLLM's GSM8K answers of
// Mixtral-8x7B, embedded in the binary. It is offline, deterministic, safe
// for concurrent use, and judges one answer (it is no Sampler). Its Name is
// "default".
func DefaultVerifier() Verifier {
	m, err := defaultVerifier()
	if err != nil {
		err = fmt.Errorf("scoring: embedded verifier weights: %w", err)
		return VerifierFunc(func(context.Context, Request, []Answer) (float64, error) { return 0, err })
	}
	return m
}

// VerifierModel is a trained verifier. Its doubt is the probability, under
// a logistic regression (plus boosted trees) on checkable facts of the
// answer, that the answer is wrong, raised to the floor of any hard check
// the answer fails:
//
//   - empty answer (no text, no tool call): 1;
//   - cut off by the output limit (Answer.FinishReason), a refusal, text
//     that does not parse as JSON when Request.JSONMode asked for JSON, or
//     a tool call that names no offered tool or whose arguments do not
//     parse or break the tool's schema (Request.ToolSchemas: required
//     properties and types): the HardFloor of the weights file (0.9 by
//     default, an assumption: the training data has none of these);
//   - a false equation: the rate of wrong answers among the training
//     answers that had one.
//
// The facts are ones an answer cannot fake to look more correct: words by
// which an answer vouches for itself ("verified", "I am confident", "100%
// correct", …) feed no feature, and the sentences carrying them are left
// out of the judgment (the hard checks still read the whole text). So a
// vouching sentence, wherever it is put, changes no doubt. Text that adds
// checkable work (true equations, the question's numbers) can still lower
// it: the features are facts, and an answer that states true facts is
// judged by them. Create it with
// NewVerifierModel or TrainVerifier. It is safe for concurrent use.
type VerifierModel struct {
	bias   float64
	w      [numVerifyFeatures]float64
	trees  [][]treeNode
	floors verifierFloors
	info   verifierInfo
}

var (
	_ Verifier = (*VerifierModel)(nil)
	_ Named    = (*VerifierModel)(nil)
)

type verifierFloors struct {
	Hard          float64 `json:"hard"`
	FalseEquation float64 `json:"false_equation"`
}

type verifierInfo struct {
	Examples  int     `json:"examples"`
	Wrong     int     `json:"wrong"`
	L2        float64 `json:"l2"`
	Trees     int     `json:"trees"`
	TreeDepth int     `json:"tree_depth"`
	TreeRate  float64 `json:"tree_rate"`
}

// Name returns "default".
func (m *VerifierModel) Name() string { return "default" }

// Verify returns the doubt that answers[0] is correct (a router passes one
// answer to a verifier that is no Sampler; further answers are ignored). It
// fails when ctx is done or answers is empty (ErrNoAnswer).
func (m *VerifierModel) Verify(ctx context.Context, req Request, answers []Answer) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(answers) == 0 {
		return 0, ErrNoAnswer
	}
	return m.doubt(&req, &answers[0]), nil
}

// structuredPrior is the doubt of an answer that is only tool calls, a ReAct
// action step, or the JSON document that was asked for, when it passes every
// hard check: the
// model was fitted on worked answers in prose, whose facts (markers, steps,
// arithmetic) such an answer does not have, so only its checks judge it.
const structuredPrior = 0.2

func (m *VerifierModel) doubt(req *Request, a *Answer) float64 {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	af := judgedFacts(req, a, sc)
	if tool, _, ok := reactAction(a.Text); ok && len(a.ToolCalls) == 0 {
		// A ReAct step: judged by whether its action is a tool offered.
		h := af.hard
		h.badTool = h.badTool || !actionOffered(req, tool)
		return m.floor(&h, structuredPrior)
	}
	if structured(req, a) {
		return m.floor(&af.hard, structuredPrior)
	}
	return m.floor(&af.hard, sigmoid(m.raw(af.f[:])))
}

// structured reports an answer that is tool calls with no text, or JSON
// asked for and given.
func structured(req *Request, a *Answer) bool {
	if len(a.ToolCalls) > 0 && strings.TrimSpace(a.Text) == "" {
		return true
	}
	return req.JSONMode && validJSONAnswer(a.Text)
}

// judgedFacts are the facts an answer is judged by: those of its text
// without the sentences in which it vouches for itself (see stripClaims),
// with the hard checks that either the whole text or that text fails.
func judgedFacts(req *Request, a *Answer, sc *scratch) answerFacts {
	af := answerFactsOf(req, a, sc)
	if !af.hard.claims {
		return af
	}
	b := *a
	b.Text = stripClaims(a.Text)
	bf := answerFactsOf(req, &b, sc)
	h, g := &bf.hard, &af.hard
	h.truncated = h.truncated || g.truncated
	h.refusal = h.refusal || g.refusal
	h.badJSON = g.badJSON
	h.badTool = h.badTool || g.badTool
	h.falseEq = h.falseEq || g.falseEq
	h.claims = true
	return bf
}

// floor raises d to the floors of the hard checks that fail.
func (m *VerifierModel) floor(h *hardChecks, d float64) float64 {
	if h.empty {
		return 1
	}
	if h.truncated || h.refusal || h.badJSON || h.badTool {
		d = max(d, m.floors.Hard)
	}
	if h.falseEq {
		d = max(d, m.floors.FalseEquation)
	}
	return d
}

func (m *VerifierModel) raw(f []float64) float64 {
	z := m.bias
	for i, v := range f {
		z += m.w[i] * v
	}
	for _, t := range m.trees {
		z += evalTree(t, f)
	}
	return z
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// stripClaims returns text without its sentences that carry a word of
// class vwClaim. Sentences end at a line break or at a '.', '!' or '?' that
// is not a decimal point, so text appended to an answer starts a sentence
// of its own even when nothing separates it.
func stripClaims(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	start := 0
	for i := 0; i <= len(text); i++ {
		end := i == len(text)
		if !end {
			c := text[i]
			end = c == '\n' || (c == '.' || c == '!' || c == '?') && (i+1 == len(text) || !isDigit(text[i+1]))
		}
		if !end {
			continue
		}
		stop := min(i+1, len(text))
		if !hasClaim(text[start:stop]) {
			b.WriteString(text[start:stop])
		}
		start = stop
	}
	return b.String()
}

func hasClaim(s string) bool {
	for i := 0; i < len(s); {
		if lowerTab[s[i]] <= 1 {
			i++
			continue
		}
		h := uint32(0)
		j := i
		for j < len(s) && (lowerTab[s[j]] > 1 || s[j] == '\'') {
			if s[j] == '\'' {
				h = mixByte(h, '\'')
			} else {
				h = mixByte(h, lowerTab[s[j]])
			}
			j++
		}
		if verifyClassOf(fold(h))&vwClaim != 0 && isClaimWord(s[i:j]) {
			return true
		}
		i = j
	}
	return false
}

// verifierFile is the JSON layout of a verifier weights file.
type verifierFile struct {
	Format   string          `json:"format"`
	Model    string          `json:"model"`
	Trained  verifierInfo    `json:"trained"`
	Bias     float64         `json:"bias"`
	Features []featureWeight `json:"features"`
	Trees    [][]treeNode    `json:"trees,omitempty"`
	Floors   verifierFloors  `json:"floors"`
}

// NewVerifierModel parses a verifier weights file written by
// VerifierModel.MarshalJSON (cmd/baar-train --verifier-out).
func NewVerifierModel(weights []byte) (*VerifierModel, error) {
	var vf verifierFile
	if err := decodeWeights(weights, &vf, "verifier weights", &vf.Format, verifierFormat); err != nil {
		return nil, err
	}
	m := &VerifierModel{info: vf.Trained, floors: vf.Floors}
	if err := readLinear("verifier weights", vf.Bias, vf.Features, verifyFeatureNames[:], &m.bias, m.w[:]); err != nil {
		return nil, err
	}
	for i, t := range vf.Trees {
		if err := checkTree(t, int(numVerifyFeatures)); err != nil {
			return nil, fmt.Errorf("scoring: verifier weights: tree %d: %w", i, err)
		}
	}
	m.trees = vf.Trees
	for _, f := range []float64{vf.Floors.Hard, vf.Floors.FalseEquation} {
		if !(f >= 0 && f <= 1) {
			return nil, fmt.Errorf("scoring: verifier weights: floor %v outside [0,1]", f)
		}
	}
	return m, nil
}

// MarshalJSON writes m as a verifier weights file. The output is
// deterministic: the same model always gives the same bytes.
func (m *VerifierModel) MarshalJSON() ([]byte, error) {
	vf := verifierFile{
		Format:  verifierFormat,
		Model:   "doubt = max(logistic regression plus boosted trees on checkable facts of the answer, floors of the failed hard checks)",
		Trained: m.info,
		Bias:    m.bias,
		Trees:   m.trees,
		Floors:  m.floors,
	}
	for i, name := range verifyFeatureNames {
		vf.Features = append(vf.Features, featureWeight{Name: name, Weight: m.w[i]})
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(vf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
