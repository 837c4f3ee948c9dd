package tokens

import (
	"bytes"
	"strings"
)

// Family is a model's tokenizer family. The zero value is FamilyOther.
type Family uint8

// Tokenizer families.
const (
	// FamilyOther is any model whose tokenizer is not known: the most
	// conservative rules apply.
	FamilyOther Family = iota
	// FamilyO200k is OpenAI's o200k_base: gpt-4o, chatgpt-4o, gpt-4.1,
	// gpt-4.5, gpt-5, gpt-oss and the o1/o3/o4 series.
	FamilyO200k
	// FamilyCL100k is OpenAI's cl100k_base: gpt-4, gpt-4-turbo, gpt-3.5 and
	// the text-embedding-3 and ada-002 embeddings.
	FamilyCL100k
	// FamilyAnthropic is Claude's (not public; a byte-level BPE).
	FamilyAnthropic
	// FamilyGemini is Gemini's and Gemma's (a SentencePiece model with byte
	// fallback).
	FamilyGemini
)

// String returns "other", "o200k", "cl100k", "anthropic" or "gemini".
func (f Family) String() string {
	switch f {
	case FamilyO200k:
		return "o200k"
	case FamilyCL100k:
		return "cl100k"
	case FamilyAnthropic:
		return "anthropic"
	case FamilyGemini:
		return "gemini"
	default:
		return "other"
	}
}

// openAI reports whether f is one of OpenAI's exact encodings.
func (f Family) openAI() bool { return f == FamilyO200k || f == FamilyCL100k }

// Exact reports whether [Counter.Count] tokenizes f's text with the
// family's own encoding (OpenAI's o200k_base and cl100k_base), so that its
// text counts are exact; for the other families they are estimates (a
// tokenizer that is not public, scaled by a conservative factor), which can
// fall short on unusual text where Bound cannot.
func (f Family) Exact() bool { return f.openAI() }

// FamilyOf returns the tokenizer family of a model name. It ignores case and
// any provider or path prefix ("openai/gpt-4o", "models/gemini-2.5-pro",
// "us.anthropic.claude-sonnet-4-5-v1:0", "ft:gpt-4o-mini:org::id").
// Deployment names that do not contain the model name (Azure) are
// FamilyOther.
func FamilyOf(model string) Family {
	f, _ := classify(model, false)
	return f
}

// classify returns the family of a model and, when withImage is set, its
// image rule.
func classify(model string, withImage bool) (Family, imageRule) {
	var buf [128]byte
	name := lowerBase(&buf, model)
	switch {
	case bytes.Contains(name, bClaude):
		return FamilyAnthropic, imageAnthropic
	case bytes.Contains(name, bGemini), bytes.Contains(name, bGemma):
		return FamilyGemini, imageGemini
	}
	fam := FamilyOther
	for _, p := range o200kPrefixes {
		if bytes.HasPrefix(name, p) {
			fam = FamilyO200k
			break
		}
	}
	if fam == FamilyOther {
		for _, p := range oSeries {
			if bytes.HasPrefix(name, p) && (len(name) == len(p) || name[len(p)] == '-') {
				fam = FamilyO200k
				break
			}
		}
	}
	if fam == FamilyOther {
		for _, p := range cl100kPrefixes {
			if bytes.HasPrefix(name, p) {
				fam = FamilyCL100k
				break
			}
		}
	}
	if fam == FamilyOther || !withImage {
		return fam, imageUnknown
	}
	return fam, openAIImageRule(name)
}

func bs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

var (
	bClaude       = []byte("claude")
	bGemini       = []byte("gemini")
	bGemma        = []byte("gemma")
	o200kPrefixes = bs(
		"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss",
		"codex-mini", "computer-use-preview", "gpt-realtime", "gpt-audio",
	)
	oSeries        = bs("o1", "o3", "o4")
	cl100kPrefixes = bs("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002")
)

// lowerBase lowercases model into buf after stripping path prefixes and a
// fine-tune prefix. Names longer than buf are truncated: every rule looks at
// the first few dozen bytes only.
func lowerBase(buf *[128]byte, model string) []byte {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	n := copy(buf[:], model)
	name := buf[:n]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			name[i] = c + ('a' - 'A')
		}
	}
	return bytes.TrimPrefix(name, []byte("ft:"))
}
