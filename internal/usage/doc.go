// Package usage normalizes the token usage that langchaingo providers report
// in [llms.ContentChoice.GenerationInfo] into one [budget.Usage] convention:
// InputTokens counts every input token (cache reads and writes included) and
// OutputTokens every output token (reasoning included).
//
// Each provider reports usage under its own keys, Go types and cache
// convention (langchaingo v0.1.14):
//
//	provider        keys                                             type     cache convention
//	openai & co.    PromptTokens CompletionTokens TotalTokens        int      PromptCachedTokens ⊂ PromptTokens
//	                ReasoningTokens (= CompletionReasoningTokens
//	                = ThinkingTokens) ⊂ CompletionTokens
//	anthropic       InputTokens OutputTokens                         int      InputTokens EXCLUDES CacheReadInputTokens
//	                CacheReadInputTokens CacheCreationInputTokens             and CacheCreationInputTokens
//	googleai        input_tokens output_tokens total_tokens          int32    CachedTokens ⊂ PromptTokens; ThinkingTokens
//	                PromptTokens CompletionTokens TotalTokens                 is always 0: thoughts show only in the total
//	vertex          input_tokens output_tokens total_tokens          int32    —
//	ollama          PromptTokens CompletionTokens TotalTokens        int      CachedTokens is langchaingo's own client
//	                (CachedTokens, CacheHit)                                  cache, not a billing figure: ignored
//	mistral         "usage": a struct with PromptTokens              struct   —
//	                CompletionTokens TotalTokens (prompt_tokens …)
//	bedrock         input_tokens output_tokens                       int      —
//	maritaca        PromptTokens CompletionTokens TotalTokens        int      —
//
// Cohere, Hugging Face, local, llamafile, ernie, watsonx and cloudflare report
// nothing: [Report.Found] is false and the caller must bill its reservation.
//
// # Values
//
// A count may be any Go integer type, a float32/float64 holding an integral
// value, a [json.Number], a decimal integer string (some gateways stringify
// numbers), a pointer to any of these, or a named type whose underlying type
// is one of them. A nil value counts as absent. Anything else, a negative,
// non-integral, NaN or infinite value, or a value above [MaxTokens] makes the
// report Invalid.
//
// # Policy
//
// The package never guesses: when usage is missing, all zero or invalid it
// says so in the [Report] and returns the zero Usage. The caller then bills
// its reservation, never $0.
//
// [llms.ContentChoice.GenerationInfo]: https://pkg.go.dev/github.com/tmc/langchaingo/llms#ContentChoice
package usage
