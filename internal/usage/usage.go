package usage

import (
	"github.com/baarcore/baar/budget"
	"github.com/tmc/langchaingo/llms"
)

// Conventions reported in [Report.Convention].
const (
	// ConventionOpenAI is OpenAI's and every OpenAI-compatible provider's
	// (PromptTokens includes cached input, CompletionTokens includes
	// reasoning), also used for maps carrying only PromptTokens and
	// CompletionTokens (maritaca).
	ConventionOpenAI = "openai"
	// ConventionAnthropic is Anthropic's (InputTokens excludes cache reads
	// and writes).
	ConventionAnthropic = "anthropic"
	// ConventionGoogle is the googleai provider's (both key styles, int32).
	ConventionGoogle = "google"
	// ConventionVertex is the vertex provider's (input_tokens, output_tokens
	// and total_tokens, int32).
	ConventionVertex = "vertex"
	// ConventionOllama is the ollama provider's.
	ConventionOllama = "ollama"
	// ConventionMistral is a usage struct or map under the "usage" key
	// (mistral).
	ConventionMistral = "mistral"
	// ConventionBedrock is the bedrock provider's (input_tokens and
	// output_tokens, int).
	ConventionBedrock = "bedrock"
)

// MaxTokens is the largest token count accepted in one field; a larger value
// is absurd for any model and makes the report Invalid.
const MaxTokens = 1_000_000_000

// Report says what [Normalize] or [FromResponse] found.
type Report struct {
	// Found is true when usage keys were present and their counts were not
	// all zero. A response with Found false carries no usage.
	Found bool
	// Convention is the convention detected (one of the Convention
	// constants), or "" when none was.
	Convention string
	// Invalid is true when usage was present but unusable: a value of the
	// wrong type, negative, non-integral, NaN, above MaxTokens, a missing
	// input or output count, or counts that contradict each other (cached
	// input above input, reasoning above output, zero input with non-zero
	// output). The Usage returned with it is zero.
	Invalid bool
	// Problem says why the usage is invalid or, when Found is false, why no
	// usage was taken ("no usage reported", "usage reported as all zero",
	// …); "" when the usage is found and valid.
	Problem string
	// Choice is the index of the choice the usage was read from, or -1.
	Choice int
	// ResponseModel is the model name the provider reported, if any (only
	// mistral puts one in GenerationInfo, under "model").
	ResponseModel string
	// FinishReasons are the distinct non-empty StopReasons of the choices,
	// in order of first appearance.
	FinishReasons []string
}

// FromResponse normalizes the usage of resp. Every choice of a response
// carries the usage of the whole response (Anthropic returns one choice per
// content block, OpenAI copies usage onto every choice when N > 1), so usage
// is read from the first choice that has usage keys and never summed.
//
// When Report.Found is false or Report.Invalid is true the returned Usage is
// zero and the caller must bill its reservation.
func FromResponse(resp *llms.ContentResponse) (budget.Usage, Report) {
	rep := Report{Choice: -1}
	if resp == nil {
		rep.Problem = "nil response"
		return budget.Usage{}, rep
	}
	var u budget.Usage
	done := false
	for i, c := range resp.Choices {
		if c == nil {
			continue
		}
		if c.StopReason != "" {
			rep.FinishReasons = appendDistinct(rep.FinishReasons, c.StopReason)
		}
		if done || len(c.GenerationInfo) == 0 {
			continue
		}
		u = normalizeWith(c.GenerationInfo, true, &rep)
		if rep.Convention == "" {
			continue
		}
		rep.Choice = i
		done = true
	}
	if !done {
		u = budget.Usage{}
		if rep.Problem == "" {
			rep.Problem = "no usage reported"
		}
	}
	return u, rep
}

// Normalize normalizes the usage in one choice's GenerationInfo. See
// [FromResponse]; Report.Choice is -1 and Report.FinishReasons nil.
func Normalize(info map[string]any) (budget.Usage, Report) {
	r := Report{Choice: -1}
	u := normalizeWith(info, true, &r)
	if r.Convention == "" && r.Problem == "" {
		r.Problem = "no usage reported"
	}
	return u, r
}

func appendDistinct(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// Known GenerationInfo keys, read in one pass over the map.
const (
	kInputTokens = iota // anthropic
	kOutputTokens
	kCacheRead
	kCacheCreation
	kPromptTokens // openai, googleai, ollama, maritaca
	kCompletionTokens
	kTotalTokens
	kPromptCached // openai
	kReasoning
	kCompletionReasoning
	kThinking     // openai, googleai (always 0), ollama (always 0)
	kCachedTokens // googleai, ollama
	kCacheHit     // ollama
	kThinkingEnabled
	kInput // googleai, vertex, bedrock
	kOutput
	kTotal
	kUsage // mistral
	kModel
	nKeys
)

var keyIndex = map[string]int{
	"InputTokens":               kInputTokens,
	"OutputTokens":              kOutputTokens,
	"CacheReadInputTokens":      kCacheRead,
	"CacheCreationInputTokens":  kCacheCreation,
	"PromptTokens":              kPromptTokens,
	"CompletionTokens":          kCompletionTokens,
	"TotalTokens":               kTotalTokens,
	"PromptCachedTokens":        kPromptCached,
	"ReasoningTokens":           kReasoning,
	"CompletionReasoningTokens": kCompletionReasoning,
	"ThinkingTokens":            kThinking,
	"CachedTokens":              kCachedTokens,
	"CacheHit":                  kCacheHit,
	"ThinkingEnabled":           kThinkingEnabled,
	"input_tokens":              kInput,
	"output_tokens":             kOutput,
	"total_tokens":              kTotal,
	"usage":                     kUsage,
	"model":                     kModel,
}

var keyName [nKeys]string

// openaiKeys are the keys the openai fast path reads: the openai keys and
// every key that would select another convention first.
var openaiKeys = [...]int{
	kInputTokens, kOutputTokens, kPromptTokens, kCompletionTokens, kTotalTokens,
	kPromptCached, kReasoning, kCompletionReasoning, kThinking, kInput, kOutput, kModel,
}

// keyOf is keyIndex as a switch, which the compiler turns into a search on
// length and content: cheaper than a map lookup.
func keyOf(k string) int {
	switch k {
	case "InputTokens":
		return kInputTokens
	case "OutputTokens":
		return kOutputTokens
	case "CacheReadInputTokens":
		return kCacheRead
	case "CacheCreationInputTokens":
		return kCacheCreation
	case "PromptTokens":
		return kPromptTokens
	case "CompletionTokens":
		return kCompletionTokens
	case "TotalTokens":
		return kTotalTokens
	case "PromptCachedTokens":
		return kPromptCached
	case "ReasoningTokens":
		return kReasoning
	case "CompletionReasoningTokens":
		return kCompletionReasoning
	case "ThinkingTokens":
		return kThinking
	case "CachedTokens":
		return kCachedTokens
	case "CacheHit":
		return kCacheHit
	case "ThinkingEnabled":
		return kThinkingEnabled
	case "input_tokens":
		return kInput
	case "output_tokens":
		return kOutput
	case "total_tokens":
		return kTotal
	case "usage":
		return kUsage
	case "model":
		return kModel
	}
	return -1
}

func init() {
	for k, i := range keyIndex {
		keyName[i] = k
	}
}

// normalizeWith detects the convention of info and reads it. The order of the
// checks matters: googleai also writes CacheReadInputTokens (an "Anthropic
// compatibility" key, googleai.go:185) and PromptTokens, so Anthropic is
// recognized by InputTokens/OutputTokens and Google by input_tokens next to
// PromptTokens.
//
// It sets rep's Found, Convention, Invalid and Problem, and its ResponseModel
// if not yet set; fast enables the openai fast path (tests compare both).
func normalizeWith(info map[string]any, fast bool, rep *Report) budget.Usage {
	if len(info) == 0 {
		return budget.Usage{}
	}
	var rd reader
	rd.collect(info, fast)
	if m, ok := rd.v[kModel].(string); ok && rep.ResponseModel == "" {
		rep.ResponseModel = m
	}
	u, ok := rd.byConvention(rep)
	if !ok {
		return budget.Usage{}
	}
	rep.Found = true
	switch {
	case rd.problem != "":
		rep.Invalid, rep.Problem = true, rd.problem
		u = budget.Usage{}
	case rd.empty:
		rep.Found, rep.Problem = false, "usage keys without counts"
		u = budget.Usage{}
	case rd.zero:
		rep.Found, rep.Problem = false, "usage reported as all zero"
		u = budget.Usage{}
	}
	return u
}

// collect fills r.v from info; fast enables the openai fast path.
func (r *reader) collect(info map[string]any, fast bool) {
	if _, ok := info["PromptCachedTokens"]; fast && ok && len(info) > 8 {
		// Fast path for the openai provider's 12-key map: look up only the
		// keys it needs, then check that no other convention applies.
		for _, i := range openaiKeys {
			if v := info[keyName[i]]; v != nil {
				r.v[i] = v
			}
		}
		if r.has(kPromptCached) && (r.has(kPromptTokens) || r.has(kCompletionTokens)) &&
			!r.has(kInputTokens) && !r.has(kOutputTokens) && !r.has(kInput) && !r.has(kOutput) {
			return
		}
		*r = reader{}
	}
	r.scan(info)
}

// byConvention detects the convention of the keys read, records it in rep
// and reads the usage by it; false if the keys are no usage (rep.Problem may
// say why).
func (r *reader) byConvention(rep *Report) (budget.Usage, bool) {
	switch {
	case r.has(kInputTokens) || r.has(kOutputTokens):
		rep.Convention = ConventionAnthropic
		return r.anthropic(), true
	case r.has(kPromptTokens) || r.has(kCompletionTokens):
		switch {
		case r.has(kInput) || r.has(kOutput):
			rep.Convention = ConventionGoogle
			return r.google(), true
		case r.has(kPromptCached) || r.has(kReasoning) || r.has(kCompletionReasoning):
			rep.Convention = ConventionOpenAI
			return r.openai(), true
		case r.has(kCacheHit) || r.has(kCachedTokens) || r.has(kThinking) || r.has(kThinkingEnabled):
			rep.Convention = ConventionOllama
		default:
			rep.Convention = ConventionOpenAI
		}
		return r.promptCompletion(kPromptTokens, kCompletionTokens, kTotalTokens), true
	case r.has(kInput) || r.has(kOutput):
		if _, i32 := r.v[kInput].(int32); i32 || r.has(kTotal) {
			rep.Convention = ConventionVertex
		} else {
			rep.Convention = ConventionBedrock
		}
		return r.promptCompletion(kInput, kOutput, kTotal), true
	case r.has(kUsage):
		rep.Convention = ConventionMistral
		return r.mistral(rep)
	}
	return budget.Usage{}, false
}

// mistral reads the counts of the mistral provider's nested Usage value.
func (r *reader) mistral(rep *Report) (budget.Usage, bool) {
	sub, problem := subUsage(r.v[kUsage])
	if problem != "" {
		r.fail(problem)
		return budget.Usage{}, true
	}
	if sub == nil {
		rep.Problem = "usage is nil"
		return budget.Usage{}, false
	}
	srd := reader{}
	srd.v[kPromptTokens], srd.v[kCompletionTokens], srd.v[kTotalTokens] = sub["PromptTokens"], sub["CompletionTokens"], sub["TotalTokens"]
	u := srd.promptCompletion(kPromptTokens, kCompletionTokens, kTotalTokens)
	r.problem, r.zero, r.empty = srd.problem, srd.zero, srd.empty
	return u, true
}

// scan fills r.v from info.
func (r *reader) scan(info map[string]any) {
	if len(info) <= 2*nKeys {
		// One pass over a small map is cheaper than nKeys lookups.
		for k, v := range info {
			if i := keyOf(k); i >= 0 && v != nil {
				r.v[i] = v
			}
		}
		return
	}
	for i := range nKeys {
		if v := info[keyName[i]]; v != nil {
			r.v[i] = v
		}
	}
}

// reader reads the counts of one GenerationInfo map and records the first
// problem met.
type reader struct {
	v       [nKeys]any
	problem string
	zero    bool // input and output both zero: nothing was reported
	empty   bool // neither input nor output present
}

func (r *reader) has(k int) bool { return r.v[k] != nil }

func (r *reader) fail(problem string) {
	if r.problem == "" {
		r.problem = problem
	}
}

// get returns the count under key k and whether it is present. An invalid
// value is recorded as the problem and read as absent.
func (r *reader) get(k int) (int64, bool) {
	v := r.v[k]
	if v == nil {
		return 0, false
	}
	n, st := toCount(v)
	switch st {
	case countOK:
		return n, true
	case countAbsent:
		return 0, false
	default:
		r.fail(keyName[k] + ": " + st.String())
		return 0, false
	}
}

// first returns the first present count among keys; when several are
// present they must agree.
func (r *reader) first(keys ...int) (int64, bool) {
	var n int64
	found := false
	for _, k := range keys {
		v, ok := r.get(k)
		if !ok {
			continue
		}
		if found && v != n {
			r.fail(keyName[keys[0]] + " and " + keyName[k] + " disagree")
			continue
		}
		n, found = v, true
	}
	return n, found
}

// inOut validates an input/output pair and applies the total: output is
// max(output, total−input), which covers thoughts that googleai and vertex
// count only in the total (TotalTokenCount includes ThoughtsTokenCount) and
// OpenAI-compatible gateways whose completion count omits reasoning.
func (r *reader) inOut(in, out, total int64, hasIn, hasOut bool) (int64, int64) {
	switch {
	case !hasIn && !hasOut:
		r.empty = true
	case !hasIn:
		r.fail("missing input token count")
	case !hasOut:
		r.fail("missing output token count")
	}
	if total > in && total-in > out {
		out = total - in
	}
	if in == 0 && out == 0 {
		r.zero = true
	} else if in == 0 {
		r.fail("zero input tokens with non-zero output")
	}
	return in, out
}

// promptCompletion reads a plain input/output/total convention (ollama,
// maritaca, vertex, bedrock, mistral). Ollama's CachedTokens is ignored: it
// is langchaingo's client-side context cache (ollamallm.go:219-228), not a
// provider billing figure, and billing it as full input is conservative.
func (r *reader) promptCompletion(inKey, outKey, totalKey int) budget.Usage {
	in, hasIn := r.get(inKey)
	out, hasOut := r.get(outKey)
	total, _ := r.get(totalKey)
	in, out = r.inOut(in, out, total, hasIn, hasOut)
	return budget.Usage{InputTokens: in, OutputTokens: out}
}

// openai reads openaillm.go:341-355: PromptTokens includes
// PromptCachedTokens and CompletionTokens includes ReasoningTokens (the same
// value is also written as CompletionReasoningTokens and ThinkingTokens).
func (r *reader) openai() budget.Usage {
	in, hasIn := r.get(kPromptTokens)
	out, hasOut := r.get(kCompletionTokens)
	total, _ := r.get(kTotalTokens)
	in, out = r.inOut(in, out, total, hasIn, hasOut)
	cached, _ := r.get(kPromptCached)
	reasoning, _ := r.first(kReasoning, kCompletionReasoning, kThinking)
	if cached > in {
		r.fail("PromptCachedTokens exceeds PromptTokens")
	}
	if reasoning > out {
		r.fail("ReasoningTokens exceeds CompletionTokens")
	}
	return budget.Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: cached, ReasoningTokens: reasoning}
}

// anthropic reads anthropicllm.go:188-238: InputTokens EXCLUDES cache reads
// and cache writes, which are added to it.
func (r *reader) anthropic() budget.Usage {
	in, hasIn := r.get(kInputTokens)
	out, hasOut := r.get(kOutputTokens)
	read, _ := r.get(kCacheRead)
	write, _ := r.get(kCacheCreation)
	in, out = r.inOut(in+read+write, out, 0, hasIn, hasOut)
	return budget.Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: read, CacheWriteTokens: write}
}

// google reads googleai.go:173-194: the same int32 counts under two key
// styles; CachedTokens (only when > 0) is part of PromptTokens; ThinkingTokens
// is always 0, so thoughts are TotalTokens − PromptTokens − CompletionTokens.
func (r *reader) google() budget.Usage {
	in, hasIn := r.first(kPromptTokens, kInput)
	completion, hasOut := r.first(kCompletionTokens, kOutput)
	total, _ := r.first(kTotalTokens, kTotal)
	in, out := r.inOut(in, completion, total, hasIn, hasOut)
	cached, _ := r.first(kCachedTokens, kCacheRead)
	if cached > in {
		r.fail("CachedTokens exceeds PromptTokens")
	}
	reasoning, _ := r.get(kThinking)
	if reasoning == 0 {
		reasoning = out - completion
	}
	if reasoning > out {
		r.fail("ThinkingTokens exceeds output tokens")
	}
	return budget.Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: cached, ReasoningTokens: reasoning}
}
