package baartest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Server simulates the OpenAI chat-completions API on 127.0.0.1 for
// langchaingo's openai client (and any OpenAI-compatible client). It is safe
// for concurrent use and never logs request contents.
type Server struct {
	cfg  config
	ts   *httptest.Server
	done chan struct{}
	once sync.Once

	requests atomic.Int64
	active   atomic.Int64
	seq      atomic.Uint64

	mu       sync.Mutex
	perModel map[string]int64
	samples  sampleCounter

	prompt, completion, cached, reasoning atomic.Int64
}

// TokenCounts are the true token counts of the answers a server sent,
// whatever its [UsageMode] reported.
type TokenCounts struct {
	Prompt     int64 // input tokens, cached included
	Completion int64 // output tokens, reasoning included
	Cached     int64 // input tokens reported as cached
	Reasoning  int64 // output tokens spent on reasoning
}

// Total is Prompt + Completion.
func (t TokenCounts) Total() int64 { return t.Prompt + t.Completion }

// Option configures a [Server].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	responder Responder
	shaping
	usageMode  UsageMode
	chunkSize  int
	chunkDelay time.Duration
	endless    bool
	failures   []FailurePlan
	latency    time.Duration
	apiKey     *string
	// mistakes per model; "" for the models not listed.
	mistakes map[string]Mistakes
}

// Defaults.
const (
	// DefaultChunkSize is the number of content bytes per streamed chunk.
	DefaultChunkSize = 16
	// DefaultReasoningRatio is the number of reasoning tokens reported per
	// visible output token for reasoning models ([IsReasoningModel]).
	DefaultReasoningRatio = 1.0
	// maxBody bounds a request body.
	maxBody = 32 << 20
)

func defaultConfig() config {
	return config{
		responder: DefaultResponder,
		shaping:   shaping{reasoningRatio: DefaultReasoningRatio},
		chunkSize: DefaultChunkSize,
	}
}

// WithResponder sets the [Responder] (default [DefaultResponder]); nil is
// ignored.
func WithResponder(r Responder) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.responder = r
		}
	})
}

// WithMaxOutput makes every text answer exactly as long as the request's
// max_tokens / max_completion_tokens allows (padded with filler, finish
// reason "length"), so completion_tokens equals the cap: the worst case a
// budget must have reserved. Requests without a cap get their natural length.
func WithMaxOutput() Option {
	return optionFunc(func(c *config) { c.maxOutput = true })
}

// WithCachedFraction reports that share of each request's prompt tokens as
// cached (prompt_tokens_details.cached_tokens, rounded down). f is clamped to
// [0, 1]; NaN means 0. Default 0.
func WithCachedFraction(f float64) Option {
	return optionFunc(func(c *config) { c.cachedFraction = clamp01(f) })
}

// WithReasoningRatio sets how many reasoning tokens a reasoning model
// ([IsReasoningModel]) reports per visible output token (default
// [DefaultReasoningRatio]); 0 turns reasoning tokens off. Negative or NaN
// means 0. Reasoning tokens are part of completion_tokens and never push it
// above the request's cap.
func WithReasoningRatio(r float64) Option {
	return optionFunc(func(c *config) {
		if math.IsNaN(r) || r < 0 || math.IsInf(r, 0) {
			r = 0
		}
		c.reasoningRatio = r
	})
}

// WithUsageMode sets how usage is reported (default [UsageHonest]).
func WithUsageMode(m UsageMode) Option {
	return optionFunc(func(c *config) { c.usageMode = m })
}

// WithStreamChunks sets the content bytes per streamed chunk (default
// [DefaultChunkSize]; values < 1 mean the default) and the delay before each
// chunk (default 0; negative means 0).
func WithStreamChunks(size int, delay time.Duration) Option {
	return optionFunc(func(c *config) {
		if size < 1 {
			size = DefaultChunkSize
		}
		c.chunkSize = size
		c.chunkDelay = max(delay, 0)
	})
}

// WithEndlessStream makes every streamed answer endless: chunks of filler
// keep coming (at the chunk delay, at least 1ms apart) until the client
// disconnects or the server is closed; the handler then returns. Requests
// that do not stream are answered normally.
func WithEndlessStream() Option {
	return optionFunc(func(c *config) { c.endless = true })
}

// WithFailures adds failure plans. For each request the plans are asked in
// order until one returns a failure; later plans are not asked. nil plans are
// ignored.
func WithFailures(plans ...FailurePlan) Option {
	return optionFunc(func(c *config) {
		for _, p := range plans {
			if p != nil {
				c.failures = append(c.failures, p)
			}
		}
	})
}

// WithLatency delays every answer by d (before any failure is applied). The
// wait ends early, without an answer, when the client cancels.
func WithLatency(d time.Duration) Option {
	return optionFunc(func(c *config) { c.latency = max(d, 0) })
}

// WithMistakes makes the listed models (all models when none is listed)
// answer wrongly as m says (see [Mistakes]); a later WithMistakes for the
// same model replaces it. Each choice of a request for several ("n") is a
// sample of its own: the choices of one response can disagree.
func WithMistakes(m Mistakes, models ...string) Option {
	return optionFunc(func(c *config) {
		if c.mistakes == nil {
			c.mistakes = make(map[string]Mistakes)
		}
		m.Kinds = append([]Mistake(nil), m.Kinds...)
		if len(models) == 0 {
			c.mistakes[""] = m
		}
		for _, name := range models {
			c.mistakes[name] = m
		}
	})
}

// mistakesFor returns the mistakes of model.
func (c *config) mistakesFor(model string) *Mistakes {
	if m, ok := c.mistakes[model]; ok {
		return &m
	}
	if m, ok := c.mistakes[""]; ok {
		return &m
	}
	return &Mistakes{}
}

// WithAPIKey makes the server answer 401 (code "invalid_api_key") to
// requests whose "Authorization: Bearer …" or "api-key" header is not key.
// By default any key is accepted.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = &key })
}

func clamp01(f float64) float64 {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return min(f, 1)
}

// NewServer starts a simulator on 127.0.0.1. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{cfg: defaultConfig(), done: make(chan struct{}), perModel: make(map[string]int64)}
	for _, o := range opts {
		if o != nil {
			o.apply(&s.cfg)
		}
	}
	s.ts = httptest.NewUnstartedServer(s.Handler())
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.Start()
	return s
}

// URL is the base URL to give the client, with the API version:
// openai.WithBaseURL(srv.URL()) makes langchaingo post to
// URL()+"/chat/completions".
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Handler is the server's HTTP handler, for mounting it elsewhere. It serves
// POST requests to any path ending in "/chat/completions" (so Azure-style
// deployment paths work too) and answers 404 otherwise. It shares the
// server's options and counters. [FailReset] and [FailTruncate] hijack the
// connection; where that is impossible (HTTP/2, a ResponseWriter without
// Hijack) they abort the handler with [http.ErrAbortHandler].
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Close stops the server: in-flight stalls, latencies and streams end, then
// it waits for their handlers to return. Close is idempotent.
func (s *Server) Close() {
	s.once.Do(func() { close(s.done) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Requests is the number of chat-completion requests received, failed and
// invalid ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// RequestsFor is the number of chat-completion requests received for model
// (invalid requests count under the model they name, or "").
func (s *Server) RequestsFor(model string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perModel[model]
}

// Tokens sums the true usage of the answers sent (a truncated answer counts
// whole; an endless stream counts what it streamed).
func (s *Server) Tokens() TokenCounts {
	return TokenCounts{
		Prompt:     s.prompt.Load(),
		Completion: s.completion.Load(),
		Cached:     s.cached.Load(),
		Reasoning:  s.reasoning.Load(),
	}
}

// Active is the number of requests being handled right now; it returns to 0
// once every handler (endless streams included) has returned.
func (s *Server) Active() int { return int(s.active.Load()) }

func (s *Server) addTokens(u usage) {
	s.prompt.Add(int64(u.Prompt))
	s.completion.Add(int64(u.Completion))
	s.cached.Add(int64(u.Cached))
	s.reasoning.Add(int64(u.Reasoning))
}

func (s *Server) countModel(model string) {
	s.mu.Lock()
	s.perModel[model]++
	s.mu.Unlock()
}

// sleep waits d; false when the request or the server ended first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.apiKey == nil {
		return true
	}
	key := *s.cfg.apiKey
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && auth == key {
		return true
	}
	return r.Header.Get("api-key") == key && r.Header.Get("api-key") != ""
}

func (s *Server) failure(model string) Failure {
	for _, p := range s.cfg.failures {
		if f := p(model); f.valid() {
			return f
		}
	}
	return FailNone
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)
	w.Header().Set("x-request-id", "req_sim"+strconv.FormatUint(s.seq.Add(1), 10))

	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		writeError(w, apiError{404, errorBody{Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")", Type: "invalid_request_error"}})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, apiError{405, errorBody{Message: "Method " + r.Method + " not allowed for " + r.URL.Path + ". Use POST.", Type: "invalid_request_error"}})
		return
	}
	s.requests.Add(1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.countModel("")
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, apiError{413, errorBody{Message: "Request body too large.", Type: "invalid_request_error"}})
		} else {
			writeError(w, apiError{400, errorBody{Message: "Could not read the request body.", Type: "invalid_request_error"}})
		}
		return
	}
	req, err := parseChatRequest(body)
	if err != nil {
		s.countModel(modelOf(body))
		e := apiError{400, errorBody{Message: err.Error(), Type: "invalid_request_error"}}
		var re *requestError
		if errors.As(err, &re) && re.param != "" {
			e.body.Param = strptr(re.param)
		}
		writeError(w, e)
		return
	}
	s.countModel(req.Model)
	if !s.authorized(r) {
		writeError(w, unauthorized())
		return
	}
	ctx := r.Context()
	if !s.sleep(ctx, s.cfg.latency) {
		return
	}
	f := s.failure(req.Model)
	switch f {
	case FailNone, FailTruncate:
	case FailReset:
		resetConn(w)
		return
	case FailStall:
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		return
	default:
		writeError(w, failureError(f, req.Model))
		return
	}

	seed := req.hash()
	choices := answers(req, s.cfg.responder(req), seed, s.cfg.shaping, s.cfg.mistakesFor(req.Model), &s.samples)
	id := "chatcmpl-sim" + strconv.FormatUint(seed, 36)
	if req.Stream {
		s.stream(w, r, req, choices, id, seed, f == FailTruncate)
		return
	}
	u := responseUsage(choices)
	s.addTokens(u)
	s.respond(w, req, choices, u, id, f == FailTruncate)
}

// answers shapes the req.N choices of a reply, each a sample of its own
// for the mistakes m.
func answers(req *ChatRequest, reply Reply, seed uint64, sh shaping, m *Mistakes, samples *sampleCounter) []answer {
	out := make([]answer, req.N)
	first := uint64(0)
	if m.active() {
		first = samples.next(seed, req.N)
	}
	for i := range out {
		r, cut, _ := m.apply(req, reply, seed, first+uint64(i))
		out[i] = sh.shape(req, r, seed, cut)
	}
	return out
}

// responseUsage is the usage of a response: the prompt once, the output of
// every choice.
func responseUsage(choices []answer) usage {
	u := choices[0].Usage
	for _, a := range choices[1:] {
		u.Completion += a.Usage.Completion
		u.Reasoning += a.Usage.Reasoning
	}
	return u
}

// modelOf reads the "model" of a body that failed validation.
func modelOf(body []byte) string {
	var m struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(body, &m)
	return m.Model
}

func writeError(w http.ResponseWriter, e apiError) {
	b, err := json.Marshal(struct {
		Error errorBody `json:"error"`
	}{e.body})
	if err != nil {
		b = []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// resetConn closes the connection abruptly (TCP RST) without answering.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, wrapped writer): the standard way to abort.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// Wire format of responses.

type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func toWireUsage(u usage) *wireUsage {
	w := &wireUsage{PromptTokens: u.Prompt, CompletionTokens: u.Completion, TotalTokens: u.total()}
	w.PromptTokensDetails.CachedTokens = u.Cached
	w.CompletionTokensDetails.ReasoningTokens = u.Reasoning
	return w
}

type wireOutToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type wireOutMessage struct {
	Role         string            `json:"role"`
	Content      *string           `json:"content"`
	Refusal      *string           `json:"refusal"`
	ToolCalls    []wireOutToolCall `json:"tool_calls,omitempty"`
	FunctionCall *FunctionCall     `json:"function_call,omitempty"`
}

type wireChoice struct {
	Index        int            `json:"index"`
	Message      wireOutMessage `json:"message"`
	Logprobs     *struct{}      `json:"logprobs"`
	FinishReason string         `json:"finish_reason"`
}

type wireResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []wireChoice `json:"choices"`
	Usage             *wireUsage   `json:"usage,omitempty"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

const fingerprint = "fp_baartest"

// wireMessage is the message of a choice.
func (a *answer) wireMessage() wireOutMessage {
	msg := wireOutMessage{Role: "assistant", FunctionCall: a.FunctionCall}
	switch {
	case len(a.ToolCalls) > 0:
		msg.ToolCalls = make([]wireOutToolCall, len(a.ToolCalls))
		for i, tc := range a.ToolCalls {
			msg.ToolCalls[i].ID = tc.ID
			msg.ToolCalls[i].Type = "function"
			msg.ToolCalls[i].Function.Name = tc.Name
			msg.ToolCalls[i].Function.Arguments = tc.Arguments
		}
	case a.FunctionCall == nil:
		content := a.Content
		msg.Content = &content
	}
	return msg
}

func (s *Server) respond(w http.ResponseWriter, req *ChatRequest, choices []answer, u usage, id string, truncate bool) {
	resp := wireResponse{
		ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
		ServiceTier: "default", SystemFingerprint: fingerprint,
		Choices: make([]wireChoice, len(choices)),
	}
	for i := range choices {
		resp.Choices[i] = wireChoice{Index: i, Message: choices[i].wireMessage(), FinishReason: choices[i].Finish}
	}
	if r, ok := s.cfg.usageMode.report(u); ok {
		resp.Usage = toWireUsage(r)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, apiError{500, errorBody{Message: "The simulator could not encode its answer.", Type: "server_error"}})
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("openai-processing-ms", "1")
	w.WriteHeader(http.StatusOK)
	if truncate {
		_, _ = w.Write(b[:len(b)/2])
		_ = http.NewResponseController(w).Flush()
		resetConn(w)
		return
	}
	_, _ = w.Write(b)
}

// Streaming.

type streamDelta struct {
	Role         string            `json:"role,omitempty"`
	Content      *string           `json:"content,omitempty"`
	ToolCalls    []wireOutToolCall `json:"tool_calls,omitempty"`
	FunctionCall *streamFunction   `json:"function_call,omitempty"`
}

type streamFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type streamChoice struct {
	Index        int         `json:"index"`
	Delta        streamDelta `json:"delta"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason *string     `json:"finish_reason"`
}

type streamChunk struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	Created           int64          `json:"created"`
	Model             string         `json:"model"`
	SystemFingerprint string         `json:"system_fingerprint"`
	Choices           []streamChoice `json:"choices"`
	Usage             any            `json:"usage,omitempty"`
}

var jsonNull = json.RawMessage("null")

// sse writes SSE events to one response.
type sse struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	base  streamChunk
	delay time.Duration
	s     *Server
	ctx   context.Context
}

// send writes one chunk after the configured delay; false when the client is
// gone or the server closing.
func (e *sse) send(choices []streamChoice, usage any) bool {
	if !e.s.sleep(e.ctx, e.delay) {
		return false
	}
	c := e.base
	c.Choices = choices
	if usage != nil {
		c.Usage = usage
	}
	b, err := json.Marshal(c)
	if err != nil {
		return false
	}
	return e.write(b)
}

func (e *sse) write(data []byte) bool {
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, '\n', '\n')
	if _, err := e.w.Write(buf); err != nil {
		return false
	}
	return e.flush()
}

func (e *sse) flush() bool {
	err := e.rc.Flush()
	return err == nil || errors.Is(err, http.ErrNotSupported)
}

func pieces(s string, size int) []string {
	var out []string
	for len(s) > 0 {
		n := min(size, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func strp(s string) *string { return &s }

// chunks builds the chunks of one choice.
func (s *Server) chunks(a answer, index int) [][]streamChoice {
	one := func(d streamDelta, finish *string) []streamChoice {
		return []streamChoice{{Index: index, Delta: d, FinishReason: finish}}
	}
	out := [][]streamChoice{}
	switch {
	case len(a.ToolCalls) > 0:
		out = append(out, one(streamDelta{Role: "assistant"}, nil))
		for j, tc := range a.ToolCalls {
			var head wireOutToolCall
			head.Index, head.ID, head.Type = intp(j), tc.ID, "function"
			head.Function.Name = tc.Name
			out = append(out, one(streamDelta{ToolCalls: []wireOutToolCall{head}}, nil))
			for _, p := range pieces(tc.Arguments, s.cfg.chunkSize) {
				var d wireOutToolCall
				d.Index = intp(j)
				d.Function.Arguments = p
				out = append(out, one(streamDelta{ToolCalls: []wireOutToolCall{d}}, nil))
			}
		}
	case a.FunctionCall != nil:
		out = append(out, one(streamDelta{Role: "assistant", FunctionCall: &streamFunction{Name: a.FunctionCall.Name}}, nil))
		for _, p := range pieces(a.FunctionCall.Arguments, s.cfg.chunkSize) {
			out = append(out, one(streamDelta{FunctionCall: &streamFunction{Arguments: p}}, nil))
		}
	default:
		out = append(out, one(streamDelta{Role: "assistant", Content: strp("")}, nil))
		for _, p := range pieces(a.Content, s.cfg.chunkSize) {
			out = append(out, one(streamDelta{Content: strp(p)}, nil))
		}
	}
	out = append(out, one(streamDelta{}, strp(a.Finish)))
	return out
}

func intp(i int) *int { return &i }

func (s *Server) stream(w http.ResponseWriter, r *http.Request, req *ChatRequest, choices []answer, id string, seed uint64, truncate bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	e := &sse{
		w: w, rc: http.NewResponseController(w), s: s, ctx: r.Context(), delay: s.cfg.chunkDelay,
		base: streamChunk{ID: id, Object: "chat.completion.chunk", Created: time.Now().Unix(), Model: req.Model, SystemFingerprint: fingerprint},
	}
	if req.IncludeUsage {
		e.base.Usage = jsonNull
	}
	if !e.flush() {
		return
	}
	if s.cfg.endless {
		s.endless(e, req, seed)
		return
	}

	u := responseUsage(choices)
	s.addTokens(u)

	var all [][]streamChoice
	for i := range choices {
		all = append(all, s.chunks(choices[i], i)...)
	}
	for i, c := range all {
		if truncate && i == len(all)/2 {
			resetConn(w)
			return
		}
		if !e.send(c, nil) {
			return
		}
	}
	if req.IncludeUsage {
		if r, ok := s.cfg.usageMode.report(u); ok {
			if !e.send([]streamChoice{}, toWireUsage(r)) {
				return
			}
		}
	}
	e.write([]byte("[DONE]"))
}

// endless streams filler until the client or the server goes away.
func (s *Server) endless(e *sse, req *ChatRequest, seed uint64) {
	if e.delay < time.Millisecond {
		e.delay = time.Millisecond
	}
	streamed := 0
	defer func() {
		s.addTokens(usage{Prompt: req.PromptTokens, Completion: streamed})
	}()
	if !e.send([]streamChoice{{Delta: streamDelta{Role: "assistant", Content: strp("")}}}, nil) {
		return
	}
	rng := splitmix(seed)
	var b strings.Builder
	for {
		b.Reset()
		for b.Len() < s.cfg.chunkSize {
			b.WriteString(vocabulary[rng.next()%uint64(len(vocabulary))])
			b.WriteByte(' ')
		}
		p := b.String()
		if !e.send([]streamChoice{{Delta: streamDelta{Content: &p}}}, nil) {
			return
		}
		streamed += ApproxTokens(p)
	}
}
