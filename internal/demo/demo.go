// Package demo wires the examples' models: langchaingo's real openai client,
// talking to the real API when OPENAI_API_KEY is set and to baar's in-process
// OpenAI-compatible simulator otherwise.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/internal/otelsetup"
	"github.com/baarcore/baar/scoring"
)

// Env returns the value of the environment variable key, or def when unset.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Models are the two models of an example.
type Models struct {
	Cheap, Capable llms.Model
	// Offline reports whether they talk to the simulator.
	Offline bool
	srv     *baartest.Server
}

// Close stops the simulator, if any.
func (m *Models) Close() {
	if m.srv != nil {
		m.srv.Close()
	}
}

// Requests is the number of requests the simulator received; -1 online.
func (m *Models) Requests() int64 {
	if m.srv == nil {
		return -1
	}
	return m.srv.Requests()
}

// NewModels builds openai clients for the two model names, against the real
// API (OPENAI_API_KEY, and OPENAI_BASE_URL if set) or, without a key, against
// a new simulator on which the cheap model makes the given mistakes. It says
// which on w.
func NewModels(w io.Writer, cheap, capable string, cheapMistakes baartest.Mistakes) (*Models, error) {
	m := &Models{}
	token, baseURL := os.Getenv("OPENAI_API_KEY"), ""
	if token == "" {
		m.srv = baartest.NewServer(baartest.WithMistakes(cheapMistakes, cheap))
		m.Offline = true
		token, baseURL = "offline", m.srv.URL()
		fmt.Fprintln(w, "offline: langchaingo's openai client -> baar's OpenAI-compatible simulator (set OPENAI_API_KEY for the real API)")
		if cheapMistakes.Rate > 0 {
			fmt.Fprintf(w, "offline: the simulated %s answers wrongly %.0f%% of the time (seed %d), %s never\n", cheap, 100*cheapMistakes.Rate, cheapMistakes.Seed, capable)
		}
	}
	mk := func(name string) (llms.Model, error) {
		opts := []openai.Option{openai.WithToken(token), openai.WithModel(name)}
		if baseURL != "" {
			opts = append(opts, openai.WithBaseURL(baseURL))
		}
		return openai.New(opts...)
	}
	var err error
	if m.Cheap, err = mk(cheap); err != nil {
		m.Close()
		return nil, err
	}
	if m.Capable, err = mk(capable); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// VerifierName is v's name for the examples' output: its Name, else
// "custom" (as the Router reports it).
func VerifierName(v scoring.Verifier) string {
	if n, ok := v.(scoring.Named); ok && n.Name() != "" {
		return n.Name()
	}
	return "custom"
}

// Refusals watches a Router's calls (call Observe from its report
// function) to show, offline, that a call the kill-switch refused made no
// provider request: the simulator's request count when the call before it
// ended, and when the refusal did. Calls must not overlap the refused one.
type Refusals struct {
	Models *Models

	mu            sync.Mutex
	last          int64
	before, after int64
	seen          bool
}

// Observe records a call's end.
func (x *Refusals) Observe(r *baar.CallReport) {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := x.Models.Requests()
	if r.Decision == baar.DecisionRejected && !x.seen {
		x.before, x.after, x.seen = x.last, n, true
	}
	x.last = n
}

// Print says what the first refusal cost in provider requests, offline.
func (x *Refusals) Print(w io.Writer, r *baar.Router) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.Models.Offline || !x.seen {
		return
	}
	fmt.Fprintf(w, "refused locally: the simulator had received %d requests when the call before ended, %d when the refusal came; spent $%.6f of $%.4f\n",
		x.before, x.after, r.Spent(), r.Budget())
}

// Telemetry starts the OTLP export of the Router's spans and metrics when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (otelsetup.Start); stop flushes it,
// reporting a failure on stderr under the example's name.
func Telemetry(ctx context.Context, name string) (stop func(), err error) {
	shutdown, err := otelsetup.Start(ctx, "baar-example-"+name)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := shutdown(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "%s: telemetry export: %v\n", name, err)
		}
	}, nil
}
