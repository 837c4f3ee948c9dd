package baartest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/baarcore/baar/baartest"
)

func TestNetCounterUnused(t *testing.T) {
	var nc baartest.NetCounter
	_ = nc.HTTPClient()
	assert.Zero(t, nc.Dials())
	assert.Zero(t, nc.Lookups())
	assert.Zero(t, nc.DNSDials())
	assert.Zero(t, nc.Total())
}

func TestNetCounterCountsDialAndLookup(t *testing.T) {
	srv := baartest.NewServer()
	defer srv.Close()
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	byName := "http://localhost:" + u.Port() + "/v1"

	var nc baartest.NetCounter
	llm, err := openai.New(openai.WithToken("t"), openai.WithBaseURL(byName), openai.WithModel("gpt-4o-mini"),
		openai.WithHTTPClient(nc.HTTPClient()))
	require.NoError(t, err)
	_, err = llm.Call(context.Background(), "hi")
	require.NoError(t, err)
	assert.EqualValues(t, 1, nc.Dials())
	assert.EqualValues(t, 1, nc.Lookups(), "localhost is a name: one look-up")
	assert.EqualValues(t, 1, srv.Requests())
}

func TestNetCounterIPLiteralAndReuse(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer ts.Close()
	var nc baartest.NetCounter
	for i := 0; i < 3; i++ {
		resp, err := nc.HTTPClient().Get(ts.URL) // http://127.0.0.1:port
		require.NoError(t, err)
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	assert.EqualValues(t, 1, nc.Dials(), "keep-alive reuses the connection")
	assert.Zero(t, nc.Lookups(), "an IP literal needs no look-up")
	assert.Same(t, nc.HTTPClient(), nc.HTTPClient())
}

func TestNetCounterCountsFailedLookups(t *testing.T) {
	var nc baartest.NetCounter
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://no-such-host.invalid/", nil)
	require.NoError(t, err)
	resp, err := nc.HTTPClient().Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.EqualValues(t, 1, nc.Lookups())
	assert.EqualValues(t, 1, nc.Dials())

	conn, err := nc.DialContext(context.Background(), "tcp", "no port")
	assert.Error(t, err)
	assert.Nil(t, conn)
	assert.True(t, strings.Contains(err.Error(), "port"), err.Error())
}
