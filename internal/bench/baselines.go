package bench

import "strings"

// LengthScore is the prompt-length baseline: the prompt's length in UTF-8
// bytes (the measure that reproduces the baselines of the shared notes).
func LengthScore(prompt string) float64 { return float64(len(prompt)) }

// KeywordThreshold is the Python Baar-Core's default complexity threshold.
const KeywordThreshold = 0.80

// keyword groups of the restated Python Baar-Core 0.2.5 heuristic.
var (
	kwEasy      = []string{"capital of", "define "}
	kwReasoning = []string{"analyze", "analyse", "explain", "why", "compare", "evaluate", "reason",
		"prove", "derive", "justify", "step by step", "think"}
	kwTechnical = []string{"algorithm", "architecture", "code", "function", "implement", "design",
		"optimize", "debug", "system", "database", "equation", "integral", "theorem", "calculate"}
	kwComplex = []string{"complex", "detailed", "comprehensive", "in-depth", "multi-step",
		"trade-off", "tradeoff", "strategy"}
)

// KeywordScore restates the Python Baar-Core 0.2.5 complexity heuristic
// (see shared notes peers.md) as a baseline: easy patterns ("capital of",
// "define ") score 0.1; otherwise an additive score from a length term and
// keyword hits (reasoning, technical, "complex" words), capped at 1. Its
// native threshold is KeywordThreshold. It is a restatement from the
// package's description, not a port of its code.
func KeywordScore(prompt string) float64 {
	p := strings.ToLower(prompt)
	for _, k := range kwEasy {
		if strings.Contains(p, k) {
			return 0.1
		}
	}
	s := 0.2
	words := len(strings.Fields(p))
	switch {
	case words > 300:
		s += 0.3
	case words > 150:
		s += 0.2
	case words > 50:
		s += 0.1
	}
	for _, g := range []struct {
		kws []string
		w   float64
	}{{kwReasoning, 0.15}, {kwTechnical, 0.15}, {kwComplex, 0.1}} {
		for _, k := range g.kws {
			if strings.Contains(p, k) {
				s += g.w
			}
		}
	}
	if strings.Count(p, "?") > 1 {
		s += 0.1
	}
	if s > 1 {
		s = 1
	}
	return s
}
