package tokens

import (
	"encoding/base64"
	"testing"

	"github.com/tmc/langchaingo/llms"
)

var fuzzModels = []string{
	"gpt-4o", "gpt-4o-mini", "gpt-4", "gpt-4.1-nano", "o4-mini", "gpt-oss-20b",
	"claude-sonnet-4-5", "gemini-2.5-pro", "llama3", "",
}

var fuzzMIMEs = []string{"image/png", "image/jpeg", "application/pdf", "audio/wav", "text/plain", "application/json", "", "video/mp4"}

var fuzzRoles = []llms.ChatMessageType{
	llms.ChatMessageTypeSystem, llms.ChatMessageTypeHuman, llms.ChatMessageTypeAI,
	llms.ChatMessageTypeTool, llms.ChatMessageTypeFunction, llms.ChatMessageTypeGeneric,
}

// fuzzReader hands out bytes and strings from the fuzz input.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) bytes() []byte {
	n := int(r.byte())
	n = min(n, len(r.b))
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *fuzzReader) str() string { return string(r.bytes()) }

func (r *fuzzReader) part(depth int) llms.ContentPart {
	switch r.byte() % 10 {
	case 0:
		return llms.TextPart(r.str())
	case 1:
		return &llms.TextContent{Text: r.str()}
	case 2:
		details := []string{"", "low", "high", "auto"}
		return llms.ImageURLWithDetailPart("data:"+fuzzMIMEs[int(r.byte())%len(fuzzMIMEs)]+";base64,"+base64.StdEncoding.EncodeToString(r.bytes()), details[int(r.byte())%4])
	case 3:
		return llms.ImageURLPart(r.str())
	case 4:
		return llms.BinaryPart(fuzzMIMEs[int(r.byte())%len(fuzzMIMEs)], r.bytes())
	case 5:
		tc := llms.ToolCall{ID: r.str(), Type: r.str()}
		if r.byte()%2 == 0 {
			tc.FunctionCall = &llms.FunctionCall{Name: r.str(), Arguments: r.str()}
		}
		return tc
	case 6:
		return llms.ToolCallResponse{ToolCallID: r.str(), Name: r.str(), Content: r.str()}
	case 7:
		if depth > 20 {
			return nil
		}
		return llms.CachedContent{ContentPart: r.part(depth + 1)}
	case 8:
		return nil
	default:
		return llms.TextPart(r.str() + r.str())
	}
}

func (r *fuzzReader) schema(depth int) any {
	switch r.byte() % 7 {
	case 0:
		return r.str()
	case 1:
		return float64(r.byte())
	case 2:
		if depth > 5 {
			return nil
		}
		m := map[string]any{}
		for range int(r.byte() % 4) {
			m[r.str()] = r.schema(depth + 1)
		}
		return m
	case 3:
		if depth > 5 {
			return nil
		}
		return []any{r.schema(depth + 1), r.schema(depth + 1)}
	case 4:
		return []string{r.str()}
	case 5:
		return r.byte()%2 == 0
	default:
		return nil
	}
}

func FuzzBound(f *testing.F) {
	// More seeds are committed in testdata/fuzz/FuzzBound.
	f.Add([]byte{})
	c := NewCounter()
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		model := fuzzModels[int(r.byte())%len(fuzzModels)]
		var msgs []llms.MessageContent
		for n := int(r.byte() % 6); n > 0; n-- {
			m := llms.MessageContent{Role: fuzzRoles[int(r.byte())%len(fuzzRoles)]}
			for k := int(r.byte() % 5); k > 0; k-- {
				m.Parts = append(m.Parts, r.part(0))
			}
			msgs = append(msgs, m)
		}
		var opts *llms.CallOptions
		if r.byte()%2 == 1 {
			opts = &llms.CallOptions{}
			for k := int(r.byte() % 3); k > 0; k-- {
				fd := &llms.FunctionDefinition{Name: r.str(), Description: r.str(), Parameters: r.schema(0)}
				opts.Tools = append(opts.Tools, llms.Tool{Type: "function", Function: fd})
				opts.Functions = append(opts.Functions, *fd)
			}
		}
		b := c.Bound(model, msgs, opts)
		n := c.Count(model, msgs, opts)
		if b < 0 || n < 0 {
			t.Fatalf("negative: bound %d, count %d", b, n)
		}
		if n > b {
			t.Fatalf("count %d above bound %d", n, b)
		}
		if b2 := c.Bound(model, msgs, opts); b2 != b {
			t.Fatalf("Bound not deterministic: %d then %d", b, b2)
		}
		if n2 := c.Count(model, msgs, opts); n2 != n {
			t.Fatalf("Count not deterministic (cache): %d then %d", n, n2)
		}
	})
}
