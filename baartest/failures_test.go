package baartest_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar/baartest"
)

// TestFailuresAsTheClientSeesThem checks how langchaingo's openai client and
// openai.MapError report each scripted failure.
func TestFailuresAsTheClientSeesThem(t *testing.T) {
	for _, tc := range []struct {
		failure  baartest.Failure
		contains string
		code     llms.ErrorCode
	}{
		{baartest.FailRateLimit, "API returned unexpected status code: 429: Rate limit reached for gpt-4o-mini", llms.ErrCodeRateLimit},
		// langchaingo matches "429" before "quota": a quota error maps to rate_limit.
		{baartest.FailQuota, "429: You exceeded your current quota", llms.ErrCodeRateLimit},
		{baartest.FailServerError, "API returned unexpected status code: 500: The server had an error", llms.ErrCodeProviderUnavailable},
		{baartest.FailUnavailable, "API returned unexpected status code: 503: The server is overloaded", llms.ErrCodeProviderUnavailable},
		{baartest.FailUnauthorized, "API returned unexpected status code: 401: Incorrect API key provided", llms.ErrCodeAuthentication},
		{baartest.FailBadRequest, "API returned unexpected status code: 400: Invalid request", llms.ErrCodeInvalidRequest},
		{baartest.FailReset, "network error: failed to reach API server", ""},
	} {
		t.Run(tc.failure.String(), func(t *testing.T) {
			srv := baartest.NewServer(baartest.WithFailures(baartest.Always(tc.failure)))
			defer srv.Close()
			llm := newClient(t, srv)
			for _, stream := range []bool{false, true} {
				var opts []llms.CallOption
				if stream {
					opts = append(opts, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
				}
				_, err := llm.GenerateContent(context.Background(), human("hello"), opts...)
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.contains)
				if tc.code != "" {
					var le *llms.Error
					require.ErrorAs(t, openai.MapError(err), &le)
					assert.Equal(t, tc.code, le.Code, err.Error())
				}
			}
			assert.EqualValues(t, 2, srv.Requests())
			assert.Zero(t, srv.Tokens().Total(), "a failed request bills nothing")
		})
	}
}

func TestFailStallEndsWithTheClient(t *testing.T) {
	srv := baartest.NewServer(baartest.WithFailures(baartest.Always(baartest.FailStall)))
	defer srv.Close()
	llm := newClient(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := llm.GenerateContent(ctx, human("hello"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request timeout")
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	assert.Eventually(t, func() bool { return srv.Active() == 0 }, 2*time.Second, 5*time.Millisecond,
		"the stalled handler returns once the client is gone")
}

func TestCloseEndsStalledRequests(t *testing.T) {
	srv := baartest.NewServer(baartest.WithFailures(baartest.Always(baartest.FailStall)))
	llm := newClient(t, srv)
	done := make(chan error, 1)
	go func() {
		_, err := llm.GenerateContent(context.Background(), human("hello"))
		done <- err
	}()
	require.Eventually(t, func() bool { return srv.Active() == 1 }, 2*time.Second, time.Millisecond)
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close blocked on a stalled request")
	}
	assert.Error(t, <-done)
	srv.Close() // idempotent
}

func TestFailTruncate(t *testing.T) {
	srv := baartest.NewServer(baartest.WithFailures(baartest.Always(baartest.FailTruncate)), baartest.WithStreamChunks(4, 0))
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()
	_, err := llm.GenerateContent(ctx, human("Explain step by step how tides work."))
	require.Error(t, err, "half a JSON body")

	var got strings.Builder
	_, err = llm.GenerateContent(ctx, human("Explain step by step how tides work."),
		llms.WithStreamingFunc(func(_ context.Context, c []byte) error { got.Write(c); return nil }))
	require.Error(t, err, "a stream cut halfway")
	assert.Contains(t, err.Error(), "error reading streaming response")
	assert.NotEmpty(t, got.String(), "the first half arrived")
	assert.True(t, strings.HasPrefix(got.String(), "Simulated answer from gpt-4o-mini: "))
}

func TestScriptAndForModel(t *testing.T) {
	srv := baartest.NewServer(baartest.WithFailures(
		baartest.ForModel("gpt-4o", baartest.Script(baartest.FailRateLimit, baartest.FailNone, baartest.FailServerError)),
		baartest.ForModel("gpt-4o-mini", baartest.Always(baartest.FailNone)),
	))
	defer srv.Close()
	llm := newClient(t, srv)
	ctx := context.Background()
	var got []string
	for i := 0; i < 5; i++ {
		// The mini model's requests do not advance gpt-4o's script.
		_, err := llm.GenerateContent(ctx, human("x"), llms.WithModel("gpt-4o-mini"))
		require.NoError(t, err)
		_, err = llm.GenerateContent(ctx, human("x"), llms.WithModel("gpt-4o"))
		switch {
		case err == nil:
			got = append(got, "ok")
		case strings.Contains(err.Error(), "429"):
			got = append(got, "429")
		case strings.Contains(err.Error(), "500"):
			got = append(got, "500")
		default:
			got = append(got, err.Error())
		}
	}
	assert.Equal(t, []string{"429", "ok", "500", "ok", "ok"}, got)
	assert.EqualValues(t, 5, srv.RequestsFor("gpt-4o"))
}

func TestRandomFailuresAreSeeded(t *testing.T) {
	run := func(seed uint64, rate float64) []bool {
		srv := baartest.NewServer(baartest.WithFailures(baartest.RandomFailures(seed, rate, baartest.FailUnavailable, baartest.FailRateLimit)))
		defer srv.Close()
		llm := newClient(t, srv)
		var failed []bool
		for i := 0; i < 40; i++ {
			_, err := llm.GenerateContent(context.Background(), human("x"))
			failed = append(failed, err != nil)
		}
		return failed
	}
	count := func(b []bool) (n int) {
		for _, x := range b {
			if x {
				n++
			}
		}
		return n
	}
	a, b := run(7, 0.3), run(7, 0.3)
	assert.Equal(t, a, b, "same seed, same failures")
	assert.Greater(t, count(a), 2)
	assert.Less(t, count(a), 30)
	assert.NotEqual(t, a, run(8, 0.3))
	assert.Zero(t, count(run(7, 0)))
	assert.Equal(t, 40, count(run(7, 1)))
}

func TestLatency(t *testing.T) {
	srv := baartest.NewServer(baartest.WithLatency(60 * time.Millisecond))
	defer srv.Close()
	llm := newClient(t, srv)
	start := time.Now()
	_, err := llm.GenerateContent(context.Background(), human("x"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = llm.GenerateContent(ctx, human("x"))
	require.Error(t, err)
	assert.Eventually(t, func() bool { return srv.Active() == 0 }, 3*time.Second, time.Millisecond)
	assert.EqualValues(t, 2, srv.Requests())
}

func TestEndlessStreamStopsWithoutLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := baartest.NewServer(baartest.WithEndlessStream(), baartest.WithStreamChunks(8, 0))
	tr := newTransport()
	llm := newClient(t, srv, openai.WithHTTPClient(tr.client()))

	// Stopped by cancelling the context.
	ctx, cancel := context.WithCancel(context.Background())
	chunks := 0
	_, err := llm.GenerateContent(ctx, human("never stop"), llms.WithStreamingFunc(func(context.Context, []byte) error {
		chunks++
		if chunks == 50 {
			cancel()
		}
		return nil
	}))
	// langchaingo's openai client ends a stream cancelled mid-way with the
	// partial answer and a nil error: only ctx.Err() tells.
	_ = err
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.GreaterOrEqual(t, chunks, 50)
	assert.Eventually(t, func() bool { return srv.Active() == 0 }, 3*time.Second, 5*time.Millisecond,
		"the server noticed the disconnect")

	// Stopped by the streaming func.
	stop := errors.New("stop")
	n := 0
	_, err = llm.GenerateContent(context.Background(), human("never stop"), llms.WithStreamingFunc(func(context.Context, []byte) error {
		n++
		if n == 20 {
			return stop
		}
		return nil
	}))
	require.ErrorIs(t, err, stop)
	assert.Eventually(t, func() bool { return srv.Active() == 0 }, 3*time.Second, 5*time.Millisecond)
	assert.Positive(t, srv.Tokens().Completion, "the streamed tokens are counted")

	// A non-streaming request is answered normally.
	_, err = llm.GenerateContent(context.Background(), human("x"))
	require.NoError(t, err)

	tr.closeIdle()
	srv.Close()
	// Poll here, not with assert.Eventually, whose own goroutines would count.
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutine leak: before %d, now %d\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestUsageModes(t *testing.T) {
	const q = "How many moons has Mars?"
	honest := func(t *testing.T, stream bool) (prompt, completion int) {
		srv := baartest.NewServer()
		defer srv.Close()
		resp := call(t, newClient(t, srv), q, stream)
		return info(t, resp, "PromptTokens"), info(t, resp, "CompletionTokens")
	}
	for _, stream := range []bool{false, true} {
		p, c := honest(t, stream)
		require.Equal(t, promptTokens(q), p)
		for _, tc := range []struct {
			mode       baartest.UsageMode
			prompt     int
			completion int
		}{
			{baartest.UsageHonest, p, c},
			{baartest.UsageMissing, 0, 0}, // the client reads an absent usage as zeros
			{baartest.UsageInflated, p * baartest.InflationFactor, c * baartest.InflationFactor},
			{baartest.UsageNegative, -p, -c},
			{baartest.UsageAbsurd, baartest.AbsurdTokens, baartest.AbsurdTokens},
		} {
			srv := baartest.NewServer(baartest.WithUsageMode(tc.mode))
			resp := call(t, newClient(t, srv), q, stream)
			assert.Equal(t, tc.prompt, info(t, resp, "PromptTokens"), "%v stream=%v", tc.mode, stream)
			assert.Equal(t, tc.completion, info(t, resp, "CompletionTokens"), "%v stream=%v", tc.mode, stream)
			assert.Equal(t, tc.prompt+tc.completion, info(t, resp, "TotalTokens"), "%v stream=%v", tc.mode, stream)
			// The server's own counters stay true.
			assert.EqualValues(t, p, srv.Tokens().Prompt, "%v", tc.mode)
			assert.EqualValues(t, c, srv.Tokens().Completion, "%v", tc.mode)
			srv.Close()
		}
	}
}

func call(t *testing.T, llm *openai.LLM, q string, stream bool, opts ...llms.CallOption) *llms.ContentResponse {
	t.Helper()
	if stream {
		opts = append(opts, llms.WithStreamingFunc(func(context.Context, []byte) error { return nil }))
	}
	resp, err := llm.GenerateContent(context.Background(), human(q), opts...)
	require.NoError(t, err)
	return resp
}

func TestCachedAndReasoningTokens(t *testing.T) {
	srv := baartest.NewServer(baartest.WithCachedFraction(0.75))
	defer srv.Close()
	llm := newClient(t, srv)
	q := strings.Repeat("Summarise the following report. ", 40)
	for _, stream := range []bool{false, true} {
		resp := call(t, llm, q, stream)
		p := info(t, resp, "PromptTokens")
		assert.Equal(t, p*3/4, info(t, resp, "PromptCachedTokens"))
		assert.Zero(t, info(t, resp, "ReasoningTokens"))

		// A reasoning model reports reasoning tokens inside completion tokens,
		// and the total stays within the cap.
		r := call(t, llm, q, stream, llms.WithModel("o3-mini"))
		reasoning := info(t, r, "ReasoningTokens")
		assert.Positive(t, reasoning)
		assert.Equal(t, reasoning, info(t, r, "CompletionReasoningTokens"))
		assert.Equal(t, baartest.ApproxTokens(r.Choices[0].Content)+reasoning, info(t, r, "CompletionTokens"))
		capped := call(t, llm, q, stream, llms.WithModel("gpt-5-mini"), llms.WithMaxTokens(40))
		assert.Equal(t, 40, info(t, capped, "CompletionTokens"))
		assert.Positive(t, info(t, capped, "ReasoningTokens"))
		assert.Less(t, info(t, capped, "ReasoningTokens"), 40)
	}
	off := baartest.NewServer(baartest.WithReasoningRatio(0))
	defer off.Close()
	assert.Zero(t, info(t, call(t, newClient(t, off), "x", false, llms.WithModel("o1")), "ReasoningTokens"))
}

func TestIsReasoningModel(t *testing.T) {
	for name, want := range map[string]bool{
		"o1": true, "o1-mini": true, "o3": true, "o3-mini": true, "o4-mini": true, "gpt-5": true, "gpt-5-nano": true,
		"gpt-4o": false, "gpt-4o-mini": false, "omni": false, "o": false, "": false, "claude-3": false,
	} {
		assert.Equal(t, want, baartest.IsReasoningModel(name), name)
	}
}

// testTransport is a private transport whose idle connections a test can close.
type testTransport struct{ tr *http.Transport }

func newTransport() *testTransport {
	return &testTransport{tr: &http.Transport{}}
}

func (t *testTransport) client() *http.Client { return &http.Client{Transport: t.tr} }

func (t *testTransport) closeIdle() { t.tr.CloseIdleConnections() }
