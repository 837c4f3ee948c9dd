package budget

// Price is a model's list price in USD per million tokens. The zero value of an
// optional field means "not applicable" (see each field).
type Price struct {
	// Input and Output are the USD per 1M input and output tokens. Required
	// (≥ 0, finite). Reasoning tokens are billed at Output.
	Input  float64
	Output float64
	// CachedInput is the USD per 1M input tokens read from the prompt cache;
	// 0 means "no discount": cache reads are billed at Input.
	CachedInput float64
	// CacheWrite is the USD per 1M input tokens written to the prompt cache
	// (Anthropic); 0 means cache writes are billed at Input.
	CacheWrite float64
	// LongContextThreshold, when > 0, is the prompt size (input tokens) above
	// which the WHOLE request is billed at LongInput/LongOutput (Claude Sonnet 4
	// and 4.5, Gemini 2.5 Pro above 200k). Cached and cache-write rates scale
	// by LongInput/Input.
	LongContextThreshold int64
	LongInput            float64
	LongOutput           float64
	// MaxInputTokens and MaxOutputTokens are the model's context window and
	// output limit; 0 means unknown. MaxOutputTokens is the output cap of last
	// resort for a reservation.
	MaxInputTokens  int64
	MaxOutputTokens int64
	// Source and Checked say where the price comes from and when it was last
	// checked (YYYY-MM-DD). Informational.
	Source  string
	Checked string
}
