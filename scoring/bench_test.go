package scoring

import (
	"context"
	"strings"
	"testing"
)

// prompt2KB is a realistic 2 KB prompt: prose, numbers, a list and code.
var prompt2KB = func() string {
	var b strings.Builder
	parts := []string{
		"Our service processes 1,250 orders per hour at peak, and each order touches 3 tables. ",
		"Explain why the p99 latency rose from 120 ms to 480 ms after the last deploy, and propose a fix.\n",
		"- the cache hit rate fell from 92% to 61%\n- connection pool size is 20\n",
		"```go\nfunc load(ctx context.Context, id int) (*Order, error) {\n\treturn db.Get(ctx, id)\n}\n```\n",
	}
	for b.Len() < 2048 {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	return b.String()[:2048]
}()

func BenchmarkDefault2KB(b *testing.B) {
	s := Default()
	ctx := context.Background()
	r := Request{Messages: []Message{{Role: RoleSystem, Text: "You are a senior engineer."}, {Role: RoleHuman, Text: prompt2KB}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Score(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
