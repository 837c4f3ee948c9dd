package baar

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/tmc/langchaingo/llms"
)

// ErrorClass is the Router's classification of a provider error. It decides
// whether the attempt is billed and whether the Router fails over. It is a
// low-cardinality string suitable for telemetry (error.type).
type ErrorClass string

// Error classes.
const (
	// ClassCanceled: the caller's context was cancelled or timed out.
	ClassCanceled ErrorClass = "canceled"
	// ClassBudget: a budget refusal (the Router's own, or a nested Router's).
	ClassBudget ErrorClass = "budget_exceeded"
	// ClassAuth: 401/403 or an authentication error.
	ClassAuth ErrorClass = "authentication"
	// ClassBadRequest: 400/404/413/422, token limit, content filter, model
	// not found.
	ClassBadRequest ErrorClass = "invalid_request"
	// ClassRateLimit: 429 or a rate-limit error.
	ClassRateLimit ErrorClass = "rate_limit"
	// ClassQuota: the provider's own quota or billing limit.
	ClassQuota ErrorClass = "provider_quota"
	// ClassConnect: the connection could not be made (refused, DNS failure).
	ClassConnect ErrorClass = "connect"
	// ClassNetwork: the connection broke or an ambiguous network error, after
	// the request may have been sent.
	ClassNetwork ErrorClass = "network"
	// ClassTimeout: the provider or the network timed out.
	ClassTimeout ErrorClass = "timeout"
	// ClassServer: a 5xx answer or an unavailable provider.
	ClassServer ErrorClass = "server"
	// ClassCaller: the caller's own streaming function returned an error and
	// stopped the stream. Billed (the provider produced output), never
	// failed over.
	ClassCaller ErrorClass = "caller"
	// ClassUnknown: anything else.
	ClassUnknown ErrorClass = "unknown"
)

// billed reports whether an attempt that failed with this class may have been
// billed by the provider. Those that may are settled at their reservation.
func (c ErrorClass) billed() bool {
	switch c {
	case ClassAuth, ClassBadRequest, ClassRateLimit, ClassQuota, ClassConnect, ClassBudget:
		return false
	}
	return true
}

// retryable reports whether the Router fails over to the cheap model.
func (c ErrorClass) retryable() bool {
	switch c {
	case ClassRateLimit, ClassConnect, ClassNetwork, ClassTimeout, ClassServer:
		return true
	}
	return false
}

// classify classifies err from a provider call made with ctx.
func classify(ctx context.Context, err error) ErrorClass {
	if ctx.Err() != nil {
		return ClassCanceled
	}
	if errors.Is(err, ErrBudgetExceeded) {
		return ClassBudget
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	var le *llms.Error
	if errors.As(err, &le) {
		switch le.Code {
		case llms.ErrCodeAuthentication:
			return ClassAuth
		case llms.ErrCodeInvalidRequest, llms.ErrCodeResourceNotFound, llms.ErrCodeTokenLimit,
			llms.ErrCodeContentFilter, llms.ErrCodeNotImplemented:
			return ClassBadRequest
		case llms.ErrCodeRateLimit:
			return ClassRateLimit
		case llms.ErrCodeQuotaExceeded:
			return ClassQuota
		case llms.ErrCodeTimeout:
			return ClassTimeout
		case llms.ErrCodeProviderUnavailable:
			return ClassServer
		case llms.ErrCodeCanceled:
			return ClassCanceled
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ClassConnect
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ClassConnect
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return ClassConnect
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return ClassNetwork
	}
	if code := statusCode(err.Error()); code != 0 {
		if c := classifyStatus(code); c != ClassUnknown {
			return c
		}
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "request timeout"), strings.Contains(msg, "deadline exceeded"),
		strings.Contains(msg, "timed out"):
		return ClassTimeout
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"):
		return ClassConnect
	case strings.Contains(msg, "network error"), strings.Contains(msg, "connection reset"),
		strings.Contains(msg, "broken pipe"), strings.Contains(msg, "unexpected eof"):
		return ClassNetwork
	case strings.Contains(msg, "rate limit"), strings.Contains(msg, "too many requests"):
		return ClassRateLimit
	}
	var se interface{ StatusCode() int }
	if errors.As(err, &se) {
		return classifyStatus(se.StatusCode())
	}
	return ClassUnknown
}

func classifyStatus(code int) ErrorClass {
	switch {
	case code == 401 || code == 403:
		return ClassAuth
	case code == 429:
		return ClassRateLimit
	case code == 402:
		return ClassQuota
	case code == 408:
		return ClassTimeout
	case code >= 500:
		return ClassServer
	case code >= 400:
		return ClassBadRequest
	}
	return ClassUnknown
}

// statusCode finds an HTTP status in langchaingo's provider error messages
// ("API returned unexpected status code: 429: …", "Error 503: …", "status 500").
func statusCode(msg string) int {
	for _, marker := range []string{"status code: ", "status code ", "status: ", "status ", "Error "} {
		i := strings.Index(msg, marker)
		if i < 0 {
			continue
		}
		rest := msg[i+len(marker):]
		if len(rest) >= 3 && isDigit(rest[0]) && isDigit(rest[1]) && isDigit(rest[2]) && (len(rest) == 3 || !isDigit(rest[3])) {
			code := int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
			if code >= 100 && code < 600 {
				return code
			}
		}
	}
	return 0
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
