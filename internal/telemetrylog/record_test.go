package telemetrylog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() *Record {
	score := 0.42
	return &Record{
		V: FormatVersion, Time: time.Date(2026, 11, 25, 12, 0, 0, 123, time.UTC), Decision: DecisionFailover,
		Tier: "cheap", Model: "gpt-4o-mini", Score: &score, Threshold: 0.85, BaseThreshold: 0.8,
		Tokens:       Tokens{Input: 120, Output: 40, CacheRead: 20, Reasoning: 5},
		EstimatedUSD: 0.003, ReservedUSD: 0.003, CostUSD: 0.0001, BudgetUSD: 1, SpentBeforeUSD: 0.5, SpentAfterUSD: 0.5001,
		RemainingUSD: 0.4999, LatencyMS: 812.5, Key: "team-a", AlertThresholds: []float64{0.8, 1},
		Attempts: []Attempt{
			{Tier: "capable", Model: "gpt-4o", Provider: "openai", MaxTokens: 256, UsageSource: "none", Error: "rate_limit", LatencyMS: 12},
			{Tier: "cheap", Model: "gpt-4o-mini", Provider: "openai", MaxTokens: 256, Tokens: Tokens{Input: 120, Output: 40},
				ReservedUSD: 0.0002, CostUSD: 0.0001, UsageSource: "provider", FinishReasons: []string{"stop"}, LatencyMS: 800},
		},
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
	}
}

func TestAppendParseRoundTrip(t *testing.T) {
	line, err := Append(nil, sample())
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(line, []byte("\n")))
	assert.Equal(t, 1, bytes.Count(line, []byte("\n")), "one line")
	got, err := Parse(line)
	require.NoError(t, err)
	assert.Equal(t, *sample(), got)
}

func TestParseRejects(t *testing.T) {
	valid, err := json.Marshal(sample())
	require.NoError(t, err)
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal(valid, &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	for name, line := range map[string]string{
		"empty":            "",
		"array":            "[1,2]",
		"truncated":        string(valid[:len(valid)/2]),
		"trailing garbage": string(valid) + " {}",
		"no version":       mutate(func(m map[string]any) { delete(m, "v") }),
		"no time":          mutate(func(m map[string]any) { delete(m, "time") }),
		"bad time":         mutate(func(m map[string]any) { m["time"] = "yesterday" }),
		"no decision":      mutate(func(m map[string]any) { m["decision"] = "" }),
		"negative cost":    mutate(func(m map[string]any) { m["cost_usd"] = -1 }),
		"cost as string":   mutate(func(m map[string]any) { m["cost_usd"] = "1" }),
		"negative tokens":  mutate(func(m map[string]any) { m["tokens"] = map[string]any{"input": -3} }),
		"attempt no model": mutate(func(m map[string]any) { m["attempts"] = []any{map[string]any{"tier": "cheap"}} }),
		"alert above 1":    mutate(func(m map[string]any) { m["alert_thresholds"] = []any{0.5, 1.5} }),
		"alert zero":       mutate(func(m map[string]any) { m["alert_thresholds"] = []any{0} }),
		"crossed above 1": mutate(func(m map[string]any) {
			m["alerts"] = []any{map[string]any{"threshold": 1.5, "spent_usd": 1, "limit_usd": 1}}
		}),
		"crossed negative": mutate(func(m map[string]any) {
			m["alerts"] = []any{map[string]any{"threshold": 0.5, "spent_usd": -1, "limit_usd": 1}}
		}),
		"attempt bad cost": mutate(func(m map[string]any) {
			m["attempts"] = []any{map[string]any{"model": "m", "cost_usd": -0.1}}
		}),
	} {
		_, err := Parse([]byte(line))
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
	// Unknown fields are ignored (forward compatibility).
	_, err = Parse([]byte(mutate(func(m map[string]any) { m["new_field"] = 1 })))
	assert.NoError(t, err)
}

func TestScanToleratesMalformedLines(t *testing.T) {
	good, err := Append(nil, sample())
	require.NoError(t, err)
	var in bytes.Buffer
	in.Write(good)
	in.WriteString("not json\n")
	in.WriteString("\n   \n") // blank lines are neither records nor malformed
	in.Write(good)
	in.WriteString(`{"v":1}` + "\n")
	in.WriteString(strings.Repeat("x", MaxLineBytes+10) + "\n") // too long
	in.Write(good)
	in.Write(good[:len(good)/2]) // a truncated last line

	var got []Record
	st, err := Scan(&in, func(r Record) { got = append(got, r) })
	require.NoError(t, err)
	assert.Equal(t, ScanStats{Records: 3, Malformed: 4}, st)
	assert.Len(t, got, 3)
}

func TestScanLastLineWithoutNewline(t *testing.T) {
	good, err := Append(nil, sample())
	require.NoError(t, err)
	st, err := Scan(bytes.NewReader(bytes.TrimSuffix(good, []byte("\n"))), func(Record) {})
	require.NoError(t, err)
	assert.Equal(t, ScanStats{Records: 1}, st)
}

type failingReader struct{ data io.Reader }

func (r failingReader) Read(p []byte) (int, error) {
	n, err := r.data.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("disk gone")
	}
	return n, err
}

func TestScanReportsReadErrors(t *testing.T) {
	good, err := Append(nil, sample())
	require.NoError(t, err)
	st, err := Scan(failingReader{bytes.NewReader(good)}, func(Record) {})
	assert.EqualError(t, err, "disk gone")
	assert.Equal(t, 1, st.Records)
}

// FuzzParse checks that Parse never panics, and that what it accepts
// survives an Append/Parse round trip unchanged.
func FuzzParse(f *testing.F) {
	good, err := Append(nil, sample())
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"v":1,"time":"2026-01-01T00:00:00Z","decision":"rejected","score":null,"error":"budget_exceeded"}`))
	f.Add([]byte(`{"v":1,"time":"2026-01-01T00:00:00Z","decision":"cheap","attempts":[{"model":"m","tokens":{"input":1}}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := Parse(line)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		again, err := Append(nil, &rec)
		if err != nil {
			t.Fatalf("re-encoding an accepted record: %v", err)
		}
		rec2, err := Parse(again)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", again, err)
		}
		again2, err := Append(nil, &rec2)
		if err != nil || !bytes.Equal(again, again2) {
			t.Fatalf("round trip changed the record:\n%s\n%s", again, again2)
		}
		var st ScanStats
		if st, err = Scan(bytes.NewReader(append(line, '\n')), func(Record) {}); err != nil || st.Records != 1 {
			t.Fatalf("Scan disagrees with Parse on %q: %+v %v", line, st, err)
		}
	})
}

func TestOperationField(t *testing.T) {
	// A Router's line has no "operation" field, as before the field existed.
	line, err := Append(nil, sample())
	require.NoError(t, err)
	assert.NotContains(t, string(line), `"operation"`)
	// Lines written before the field existed parse with Operation "".
	old, err := Parse([]byte(`{"v":1,"time":"2026-01-01T00:00:00Z","decision":"cheap","score":0.1,"threshold":0.8,"base_threshold":0.8}`))
	require.NoError(t, err)
	assert.Empty(t, old.Operation)
	// An embeddings line round-trips.
	rec := Record{V: FormatVersion, Time: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Operation: OperationEmbeddings,
		Decision: "embedded", Model: "text-embedding-3-small", Tokens: Tokens{Input: 8}, CostUSD: 1.6e-7,
		Attempts: []Attempt{{Model: "text-embedding-3-small", Provider: "openai", Tokens: Tokens{Input: 8}, CostUSD: 1.6e-7, UsageSource: "count"}}}
	line, err = Append(nil, &rec)
	require.NoError(t, err)
	assert.Contains(t, string(line), `"operation":"embeddings"`)
	got, err := Parse(line)
	require.NoError(t, err)
	assert.Equal(t, rec, got)
}
