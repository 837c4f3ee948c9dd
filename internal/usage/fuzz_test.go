package usage

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/baarcore/baar/budget"
	"github.com/tmc/langchaingo/llms"
)

var fuzzKeys = []string{
	"InputTokens", "OutputTokens", "CacheReadInputTokens", "CacheCreationInputTokens",
	"PromptTokens", "CompletionTokens", "TotalTokens", "PromptCachedTokens",
	"ReasoningTokens", "CompletionReasoningTokens", "ThinkingTokens", "CachedTokens",
	"CacheHit", "ThinkingEnabled", "input_tokens", "output_tokens", "total_tokens",
	"usage", "model", "created", "ThinkingContent", "prompt_tokens", "completion_tokens",
}

// fuzzValue builds a value of a type chosen by kind from the 8 bytes of n.
func fuzzValue(kind byte, n uint64) any {
	small := int64(n % 5000)
	switch kind % 20 {
	case 0:
		return int(small)
	case 1:
		return int32(small)
	case 2:
		return int64(n) // any int64, negative included
	case 3:
		return n // any uint64
	case 4:
		return float64(small)
	case 5:
		return math.Float64frombits(n) // NaN, Inf, fractions, huge
	case 6:
		return float32(small) / 2
	case 7:
		return json.Number(strconv.FormatInt(int64(n), 10))
	case 8:
		return strconv.FormatInt(small, 10)
	case 9:
		return "x" + strconv.FormatUint(n, 16)
	case 10:
		return n%2 == 0
	case 11:
		return nil
	case 12:
		return (*int)(nil)
	case 13:
		v := int(small)
		return &v
	case 14:
		return mistralUsageInfo{PromptTokens: int(small), CompletionTokens: int(n>>32) % 3000, TotalTokens: int(n>>16) % 9000}
	case 15:
		return map[string]any{"prompt_tokens": small, "completion_tokens": int64(n >> 40)}
	case 16:
		return namedCount(small)
	case 17:
		return -int(small) - 1
	case 18:
		return int8(n)
	default:
		return "m" + strconv.Itoa(int(small))
	}
}

// fuzzInfo builds a GenerationInfo map from data: each 10-byte record is a
// key index, a value kind and 8 bytes of value.
func fuzzInfo(data []byte) map[string]any {
	info := map[string]any{}
	for len(data) >= 10 {
		key := fuzzKeys[int(data[0])%len(fuzzKeys)]
		info[key] = fuzzValue(data[1], binary.LittleEndian.Uint64(data[2:10]))
		data = data[10:]
	}
	return info
}

func FuzzNormalize(f *testing.F) {
	// More seeds are committed in testdata/fuzz/FuzzNormalize.
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info := fuzzInfo(data)
		u, r := Normalize(info)
		check := func(where string) {
			if u.InputTokens < 0 || u.OutputTokens < 0 || u.CacheReadTokens < 0 || u.CacheWriteTokens < 0 || u.ReasoningTokens < 0 {
				t.Fatalf("%s: negative field: %+v (%+v)", where, u, r)
			}
			if u.OutputTokens < u.ReasoningTokens {
				t.Fatalf("%s: reasoning above output: %+v (%+v)", where, u, r)
			}
			if r.Found && !r.Invalid {
				if u.InputTokens < u.CacheReadTokens+u.CacheWriteTokens {
					t.Fatalf("%s: cache above input: %+v (%+v)", where, u, r)
				}
				if u.InputTokens == 0 {
					t.Fatalf("%s: found usage without input: %+v (%+v)", where, u, r)
				}
				if r.Problem != "" {
					t.Fatalf("%s: valid report with a problem: %+v", where, r)
				}
			} else if u != (budget.Usage{}) {
				t.Fatalf("%s: usage returned with an unusable report: %+v (%+v)", where, u, r)
			}
			if r.Invalid && (r.Problem == "" || !r.Found) {
				t.Fatalf("%s: invalid report without a problem or not found: %+v", where, r)
			}
		}
		check("Normalize")
		// The openai fast path agrees with the full scan.
		var rq, rf Report
		uq := normalizeWith(info, true, &rq)
		if uf := normalizeWith(info, false, &rf); uf != uq || rf.Found != rq.Found || rf.Invalid != rq.Invalid ||
			rf.Convention != rq.Convention || rf.Problem != rq.Problem || rf.ResponseModel != rq.ResponseModel {
			t.Fatalf("fast path %+v %+v, full scan %+v %+v", uq, rq, uf, rf)
		}
		// The same map on two choices gives the same result, never a sum.
		u1, r1 := u, r
		u, r = FromResponse(&llms.ContentResponse{Choices: []*llms.ContentChoice{{GenerationInfo: info}, {GenerationInfo: info}}})
		check("FromResponse")
		if u != u1 || r.Found != r1.Found || r.Invalid != r1.Invalid || r.Convention != r1.Convention {
			t.Fatalf("FromResponse %+v %+v differs from Normalize %+v %+v", u, r, u1, r1)
		}
	})
}
