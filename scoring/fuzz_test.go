package scoring

import (
	"context"
	"math"
	"testing"
)

func FuzzDefault(f *testing.F) {
	f.Add("What is 2+2?", "You are helpful.", "tool", 1, 0)
	f.Add("", "", "", 0, 0)
	f.Add("A.\nB.\n```\n\t{x}\n", "\xff\xfe", "日本", -5, 99)
	f.Fuzz(func(t *testing.T, user, system, tool string, calls, attachments int) {
		r := Request{
			Messages:    []Message{{Role: RoleSystem, Text: system}, {Role: RoleHuman, Text: user}, {Role: RoleAI, Text: tool}, {Role: RoleHuman, Text: user + tool}},
			Tools:       []string{tool},
			ToolCalls:   calls,
			Attachments: attachments,
		}
		v, err := Default().Score(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(v) || v < 0 || v > 1 {
			t.Fatalf("score %v", v)
		}
	})
}
