// Package tokens bounds and counts the input tokens of a langchaingo request
// so that the router can reserve its worst-case cost before the call.
//
// [Counter.Bound] is the hot path: a guaranteed upper bound computed from
// byte lengths in O(total bytes), with no tokenizer and no allocation for
// text (about 0.4 µs for a 2 KB prompt). [Counter.Count] is a tighter
// estimate, still an upper bound and never above Bound: exact tiktoken
// counts for OpenAI models and cl100k counts times a conservative factor for
// the others, with per-message results cached so that a growing conversation
// costs only its new text. The router reserves Bound and falls back to Count
// when Bound does not fit the remaining budget.
//
// Tokenizer vocabularies come from github.com/pkoukk/tiktoken-go-loader's
// embedded files, loaded directly: this package never touches the network,
// whatever loader tiktoken-go's process-wide setting holds.
//
// # What is guaranteed
//
// For byte-level BPE tokenizers (OpenAI's o200k_base and cl100k_base,
// Claude, Llama 3, Mistral's tekken, Qwen) every token covers at least one
// byte, so Bound's text term is exact arithmetic, not an estimate. For
// SentencePiece tokenizers with byte fallback (Gemini/Gemma) the worst case
// is one token per byte plus a dummy prefix per segment; Bound adds 25% and
// one token per string for them and for unknown families. The overheads
// (roles, tool framing, tool-use system prompts) are documented constants
// chosen above what providers publish. Images follow each provider's
// published rule with a margin; binary parts follow byte rules that are
// heuristics for PDFs (see binaryTokens); video and audio are bounded by
// their bytes or their length at Gemini's per-second rates, whichever is
// more, the length read from MP4/MOV/WebM/Matroska headers (an hour for a
// video that declares none). A container that understates its length can
// still be under-reserved: the provider's reported usage is then recorded. A provider that re-renders tool
// schemas (OpenAI's TypeScript-like form) is covered by a 50% margin on the
// schema's JSON size, not a proof.
package tokens
