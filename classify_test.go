package baar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tmc/langchaingo/llms"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		want      ErrorClass
		billed    bool
		retryable bool
	}{
		{"openai 429", errors.New("API returned unexpected status code: 429: Rate limit reached"), ClassRateLimit, false, true},
		{"openai 401", errors.New("API returned unexpected status code: 401: Incorrect API key"), ClassAuth, false, false},
		{"openai 403", errors.New("API returned unexpected status code: 403"), ClassAuth, false, false},
		{"openai 400", errors.New("API returned unexpected status code: 400: bad"), ClassBadRequest, false, false},
		{"openai 404", errors.New("API returned unexpected status code: 404: model not found"), ClassBadRequest, false, false},
		{"openai 500", errors.New("API returned unexpected status code: 500: oops"), ClassServer, true, true},
		{"openai 503", errors.New("API returned unexpected status code: 503"), ClassServer, true, true},
		{"openai sanitized timeout", errors.New("request timeout: API call exceeded deadline"), ClassTimeout, true, true},
		{"openai sanitized network", errors.New("network error: failed to reach API server"), ClassNetwork, true, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "api.example"}, ClassConnect, false, true},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ClassConnect, false, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), ClassNetwork, true, true},
		{"eof", fmt.Errorf("stream: %w", io.ErrUnexpectedEOF), ClassNetwork, true, true},
		{"llms rate", llms.NewError(llms.ErrCodeRateLimit, "x", "slow down"), ClassRateLimit, false, true},
		{"llms auth", llms.NewError(llms.ErrCodeAuthentication, "x", "key"), ClassAuth, false, false},
		{"llms quota", llms.NewError(llms.ErrCodeQuotaExceeded, "x", "quota"), ClassQuota, false, false},
		{"llms unavailable", llms.NewError(llms.ErrCodeProviderUnavailable, "x", "down"), ClassServer, true, true},
		{"nested budget", &BudgetError{Model: "m"}, ClassBudget, false, false},
		{"dollar amount is not a status", errors.New("cost $0.0500 too high"), ClassUnknown, true, false},
		{"unknown", errors.New("something odd"), ClassUnknown, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(context.Background(), tc.err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.billed, got.billed(), "billed")
			assert.Equal(t, tc.retryable, got.retryable(), "retryable")
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, ClassCanceled, classify(ctx, errors.New("request cancelled")))
}

func TestStatusCode(t *testing.T) {
	assert.Equal(t, 429, statusCode("API returned unexpected status code: 429: x"))
	assert.Equal(t, 503, statusCode("googleapi: Error 503: backend"))
	assert.Equal(t, 0, statusCode("status code: 4290"))
	assert.Equal(t, 0, statusCode("nothing here"))
	assert.Equal(t, 0, statusCode("status code: 42"))
}
