package baartest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
)

// Failure is a way for the simulator to fail a request.
type Failure int

// Failures. The HTTP errors carry OpenAI's error body
// ({"error":{"message":…,"type":…,"param":…,"code":…}}), which langchaingo's
// openai client turns into "API returned unexpected status code: <status>:
// <message>".
const (
	// FailNone lets the request succeed.
	FailNone Failure = iota
	// FailRateLimit answers 429 with code "rate_limit_exceeded".
	FailRateLimit
	// FailQuota answers 429 with code "insufficient_quota".
	FailQuota
	// FailServerError answers 500 with type "server_error".
	FailServerError
	// FailUnavailable answers 503 ("The server is overloaded or not ready yet.").
	FailUnavailable
	// FailUnauthorized answers 401 with code "invalid_api_key".
	FailUnauthorized
	// FailBadRequest answers 400 with type "invalid_request_error".
	FailBadRequest
	// FailReset closes the connection (TCP reset) without answering.
	FailReset
	// FailStall never answers: it holds the request until the client gives up
	// (its context is cancelled) or the server is closed.
	FailStall
	// FailTruncate starts a successful answer, then resets the connection
	// halfway: after half the SSE chunks of a stream, or half the JSON body.
	FailTruncate
)

var failureNames = [...]string{
	FailNone:         "none",
	FailRateLimit:    "rate_limit",
	FailQuota:        "quota",
	FailServerError:  "server_error",
	FailUnavailable:  "unavailable",
	FailUnauthorized: "unauthorized",
	FailBadRequest:   "bad_request",
	FailReset:        "reset",
	FailStall:        "stall",
	FailTruncate:     "truncate",
}

// String returns the failure's name.
func (f Failure) String() string {
	if f >= 0 && int(f) < len(failureNames) {
		return failureNames[f]
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
}

func (f Failure) valid() bool { return f > FailNone && int(f) < len(failureNames) }

// FailurePlan decides whether a request for model fails, and how. It is
// called once per request it applies to and must be safe for concurrent use.
// Values other than the Fail constants count as FailNone.
// Build plans with [Script], [RandomFailures], [Always] and [ForModel], or
// write one.
type FailurePlan func(model string) Failure

// Script fails the i-th request the plan sees with failures[i] (FailNone lets
// it through); requests after the script succeed. Under concurrency the
// order in which requests reach the plan is the order they are counted.
func Script(failures ...Failure) FailurePlan {
	script := append([]Failure(nil), failures...)
	var n atomic.Int64
	return func(string) Failure {
		i := n.Add(1) - 1
		if i < int64(len(script)) {
			return script[i]
		}
		return FailNone
	}
}

// RandomFailures fails each request with probability rate (clamped to [0, 1];
// NaN means 0) with one of failures chosen uniformly (FailServerError when
// none is given). The sequence of decisions is fixed by seed.
func RandomFailures(seed uint64, rate float64, failures ...Failure) FailurePlan {
	if math.IsNaN(rate) || rate < 0 {
		rate = 0
	}
	rate = min(rate, 1)
	kinds := append([]Failure(nil), failures...)
	if len(kinds) == 0 {
		kinds = []Failure{FailServerError}
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909))
	return func(string) Failure {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() >= rate {
			return FailNone
		}
		return kinds[rng.IntN(len(kinds))]
	}
}

// Always fails every request with f.
func Always(f Failure) FailurePlan {
	return func(string) Failure { return f }
}

// ForModel applies plan only to requests for the named model; other models'
// requests do not reach it (a Script under ForModel counts that model's
// requests only).
func ForModel(model string, plan FailurePlan) FailurePlan {
	if plan == nil {
		return nil
	}
	return func(m string) Failure {
		if m != model {
			return FailNone
		}
		return plan(m)
	}
}

// apiError is an OpenAI error response.
type apiError struct {
	status int
	body   errorBody
}

type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func strptr(s string) *string { return &s }

func failureError(f Failure, model string) apiError {
	switch f {
	case FailRateLimit:
		return apiError{429, errorBody{
			Message: "Rate limit reached for " + model + " in organization org-simulated on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
			Type:    "requests", Code: strptr("rate_limit_exceeded"),
		}}
	case FailQuota:
		return apiError{429, errorBody{
			Message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
			Type:    "insufficient_quota", Code: strptr("insufficient_quota"),
		}}
	case FailServerError:
		return apiError{500, errorBody{
			Message: "The server had an error while processing your request. Sorry about that!",
			Type:    "server_error",
		}}
	case FailUnavailable:
		return apiError{503, errorBody{
			Message: "The server is overloaded or not ready yet.",
			Type:    "server_error",
		}}
	case FailUnauthorized:
		return unauthorized()
	default: // FailBadRequest
		return apiError{400, errorBody{
			Message: "Invalid request: the simulator was told to reject this request.",
			Type:    "invalid_request_error",
		}}
	}
}

func unauthorized() apiError {
	return apiError{401, errorBody{
		Message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
		Type:    "invalid_request_error", Code: strptr("invalid_api_key"),
	}}
}
