package tokens

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/llms"
)

// corpus is varied text: prose, code, numbers, CJK, emoji, invalid UTF-8,
// white space, special-token text, long runs.
var corpus = map[string]string{
	"english": "The quick brown fox jumps over the lazy dog. It wasn't the fox's fault; they'd said so.",
	"code": "func main() {\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Printf(\"%d\\n\", i*i)\n\t}\n}\n" +
		"def f(x):\n    return [y**2 for y in range(x) if y % 3 == 0]\n",
	"numbers":    "3.14159265358979 2718281828 1,234,567.89 -42e-7 0x1F 2024-11-25T19:21:46Z 555-0199",
	"cjk":        "日本語の文章です。中文文本测试，包括标点符号。한국어 텍스트도 포함됩니다.",
	"emoji":      "👨‍👩‍👧‍👦🎉🔥 flags 🇫🇷🇯🇵 skin 👍🏽 zwj 🏳️‍🌈",
	"invalid":    "bad \xff\xfe bytes \xc3( and \xe2\x82 truncated \xf0\x9f\x98",
	"whitespace": "  \n\n\t\t   \r\n    indented\n\n\n          \t",
	"special":    "<|endoftext|> <|fim_prefix|><|endofprompt|> <|im_start|>user",
	"json":       `{"name":"Ada","tags":["x","y"],"nested":{"a":[1,2,3],"b":null},"url":"https://example.com/a?b=c&d=e"}`,
	"mixed":      "Ünïcödé façade naïve — “quotes” … ½ ² ℃ Ωmega مرحبا שלום Привет नमस्ते",
	"long run":   strings.Repeat("a", 3000) + " and then " + strings.Repeat("=", 2000),
	"base64":     "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
	"empty":      "",
}

var (
	refOnce sync.Once
	refEnc  = map[string]*tiktoken.Tiktoken{}
)

// reference returns tiktoken-go's own encoders, built with the offline
// loader.
func reference(t testing.TB, name string) *tiktoken.Tiktoken {
	t.Helper()
	refOnce.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		for _, n := range []string{tiktoken.MODEL_O200K_BASE, tiktoken.MODEL_CL100K_BASE} {
			e, err := tiktoken.GetEncoding(n)
			if err != nil {
				panic(err)
			}
			refEnc[n] = e
		}
	})
	return refEnc[name]
}

func TestEncodersMatchTiktoken(t *testing.T) {
	for _, enc := range []*encoder{o200k, cl100k} {
		tk, err := enc.get()
		require.NoError(t, err)
		ref := reference(t, enc.name)
		for name, s := range corpus {
			assert.Equal(t, ref.EncodeOrdinary(s), tk.EncodeOrdinary(s), "%s %s", enc.name, name)
		}
	}
}

type failingTransport struct{ used *bool }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	*f.used = true
	return nil, errors.New("network disabled in tests")
}

type failingLoader struct{ used *bool }

func (f failingLoader) LoadTiktokenBpe(string) (map[string]int, error) {
	*f.used = true
	return nil, errors.New("global loader must not be used")
}

func TestEncodersBuildOffline(t *testing.T) {
	// Not parallel: it replaces process-wide settings.
	var netUsed, loaderUsed bool
	oldTransport := http.DefaultTransport
	http.DefaultTransport = failingTransport{&netUsed}
	tiktoken.SetBpeLoader(failingLoader{&loaderUsed})
	t.Cleanup(func() {
		http.DefaultTransport = oldTransport
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	})
	for _, shared := range []*encoder{o200k, cl100k} {
		// A fresh encoder: the shared ones may already be built.
		e := &encoder{id: shared.id, name: shared.name, pattern: shared.pattern, special: shared.special}
		tk, err := e.get()
		require.NoError(t, err)
		assert.NotEmpty(t, tk.EncodeOrdinary("hello world"))
	}
	assert.False(t, netUsed, "no network I/O")
	assert.False(t, loaderUsed, "tiktoken-go's process-wide loader is bypassed")
}

// exact is the exact token count of the texts of msgs.
func exact(t testing.TB, enc string, msgs []llms.MessageContent) int64 {
	ref := reference(t, enc)
	var n int64
	for _, m := range msgs {
		for _, p := range m.Parts {
			eachString(p, 0, func(_ byte, s string) { n += int64(len(ref.EncodeOrdinary(s))) })
		}
	}
	return n
}

func TestBoundCountExactOrder(t *testing.T) {
	c := NewCounter()
	models := map[string]string{
		"gpt-4o": tiktoken.MODEL_O200K_BASE, "o3-mini": tiktoken.MODEL_O200K_BASE,
		"gpt-4": tiktoken.MODEL_CL100K_BASE, "gpt-3.5-turbo": tiktoken.MODEL_CL100K_BASE,
	}
	var all []llms.ContentPart
	for name, s := range corpus {
		msgs := []llms.MessageContent{human(llms.TextPart(s))}
		all = append(all, llms.TextPart(s))
		for model, enc := range models {
			b, n, x := c.Bound(model, msgs, nil), c.Count(model, msgs, nil), exact(t, enc, msgs)
			assert.GreaterOrEqual(t, b, n, "%s %s: Bound ≥ Count", model, name)
			assert.GreaterOrEqual(t, n, x, "%s %s: Count ≥ exact", model, name)
		}
	}
	// A whole conversation with tool traffic.
	msgs := []llms.MessageContent{
		{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextPart(corpus["english"])}},
		{Role: llms.ChatMessageTypeHuman, Parts: all},
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{ID: "call_Xy12", Type: "function", FunctionCall: &llms.FunctionCall{Name: "lookup", Arguments: corpus["json"]}}}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: "call_Xy12", Name: "lookup", Content: corpus["cjk"]}}},
	}
	for model, enc := range models {
		b, n, x := c.Bound(model, msgs, nil), c.Count(model, msgs, nil), exact(t, enc, msgs)
		assert.GreaterOrEqual(t, b, n, model)
		assert.GreaterOrEqual(t, n, x, model)
		assert.Less(t, n, b, "%s: Count is tighter than Bound", model)
		t.Logf("%-14s bound %6d  count %6d  exact text %6d", model, b, n, x)
	}
	// Other families: never above Bound, and above the cl100k count.
	for _, model := range []string{"claude-sonnet-4-5", "gemini-2.5-pro", "llama3"} {
		b, n, x := c.Bound(model, msgs, nil), c.Count(model, msgs, nil), exact(t, tiktoken.MODEL_CL100K_BASE, msgs)
		assert.GreaterOrEqual(t, b, n, model)
		assert.Greater(t, n, x, model)
		t.Logf("%-18s bound %6d  count %6d  cl100k text %6d", model, b, n, x)
	}
}

func TestCountFactors(t *testing.T) {
	c := NewCounter()
	msgs := []llms.MessageContent{human(llms.TextPart(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40)))}
	x := exact(t, tiktoken.MODEL_CL100K_BASE, msgs)
	fixed := int64(requestOverhead + messageOverhead + partOverhead)
	assert.Equal(t, fixed+ceilDiv(x*145, 100), c.Count("claude-3-5-sonnet", msgs, nil))
	assert.Equal(t, fixed+ceilDiv(x*125, 100), c.Count("gemini-2.5-flash", msgs, nil))
	assert.Equal(t, fixed+ceilDiv(x*160, 100), c.Count("mistral-large", msgs, nil))

	text := strings.Repeat("Invoice 1234567890 is due; please pay it soon. ", 10)
	digits := []llms.MessageContent{human(llms.TextPart(text))}
	xd := exact(t, tiktoken.MODEL_CL100K_BASE, digits)
	want := fixed + ceilDiv(xd*125, 100) + 100
	require.Less(t, want, c.Bound("gemini-2.5-flash", digits, nil))
	assert.Equal(t, want, c.Count("gemini-2.5-flash", digits, nil), "one token per digit")
	// Count never exceeds Bound.
	short := []llms.MessageContent{human(llms.TextPart("1234567890 1234567890"))}
	assert.Equal(t, c.Bound("gemini-2.5-flash", short, nil), c.Count("gemini-2.5-flash", short, nil))
}

func TestCountOddParts(t *testing.T) {
	c := NewCounter()
	var deep llms.ContentPart = llms.TextPart("deep")
	for range maxUnwrap + 3 {
		deep = &llms.CachedContent{ContentPart: deep}
	}
	msgs := []llms.MessageContent{human(
		(*llms.CachedContent)(nil), llms.CachedContent{}, (*llms.ToolCall)(nil), (*llms.ToolCallResponse)(nil),
		(*llms.ImageURLContent)(nil), (*llms.BinaryContent)(nil), (*llms.TextContent)(nil), nil, deep,
		llms.CachedContent{ContentPart: llms.ImageURLPart("https://example.com/x.png")},
	)}
	for _, model := range []string{"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "llama3"} {
		b, n := c.Bound(model, msgs, nil), c.Count(model, msgs, nil)
		assert.GreaterOrEqual(t, b, n, model)
		assert.Equal(t, b, n, "%s: no text, so Count has nothing to tighten", model)
	}
}

func TestCountCache(t *testing.T) {
	c := NewCounter()
	history := []llms.MessageContent{
		{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextPart("You are terse.")}},
		human(llms.TextPart(corpus["english"])),
	}
	first := c.Count("gpt-4o", history, nil)
	encoded := c.encoded.Load()
	require.Equal(t, int64(len("You are terse.")+len(corpus["english"])), encoded)

	assert.Equal(t, first, c.Count("gpt-4o", history, nil))
	assert.Equal(t, encoded, c.encoded.Load(), "the second count of the same history encodes nothing")

	// A growing history encodes only the new message.
	reply := "It jumped."
	history = append(history, llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.TextPart(reply)}})
	c.Count("gpt-4o", history, nil)
	assert.Equal(t, encoded+int64(len(reply)), c.encoded.Load())

	// Another encoding does not share entries.
	c.Count("gpt-4", history, nil)
	assert.Equal(t, 2*(encoded+int64(len(reply))), c.encoded.Load())

	// Same text, other role: a different key.
	before := c.encoded.Load()
	c.Count("gpt-4o", []llms.MessageContent{{Role: llms.ChatMessageTypeGeneric, Parts: []llms.ContentPart{llms.TextPart(reply)}}}, nil)
	assert.Equal(t, before+int64(len(reply)), c.encoded.Load())

	// Tool definitions are cached too.
	opts := &llms.CallOptions{Functions: []llms.FunctionDefinition{{Name: "f", Description: "does f", Parameters: map[string]any{"type": "object"}}}}
	c.Count("gpt-4o", nil, opts)
	before = c.encoded.Load()
	c.Count("gpt-4o", nil, opts)
	assert.Equal(t, before, c.encoded.Load())
}

func TestCountCacheBounded(t *testing.T) {
	var mc msgCache
	for i := range uint64(cacheShards * cacheShardCap * 2) {
		mc.put(i, entry{tokens: int64(i)})
	}
	total := 0
	for i := range mc.shards {
		total += len(mc.shards[i].m)
	}
	assert.Equal(t, cacheShards*cacheShardCap, total)
}

func TestCountLongPiece(t *testing.T) {
	c := NewCounter()
	long := strings.Repeat("ab", 50_000) // one 100 KB pre-tokenizer piece: quadratic in tiktoken-go
	msgs := []llms.MessageContent{human(llms.TextPart(long))}
	start := time.Now()
	n := c.Count("gpt-4o", msgs, nil)
	assert.Less(t, time.Since(start), time.Second)
	assert.Equal(t, c.Bound("gpt-4o", msgs, nil), n, "counted as bytes")
	assert.Zero(t, c.encoded.Load())
}

func TestCountTools(t *testing.T) {
	c := NewCounter()
	msgs := []llms.MessageContent{human(llms.TextPart("weather in Paris?"))}
	opts := &llms.CallOptions{Tools: []llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{
		Name: "get_weather", Description: "Get the current weather for a city.",
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"city": map[string]any{"type": "string", "description": "City name"},
				"unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			},
			"required": []string{"city"},
		},
	}}}}
	for _, model := range []string{"gpt-4o", "gpt-4", "claude-sonnet-4-5", "gemini-2.5-pro", "llama3"} {
		b, n := c.Bound(model, msgs, opts), c.Count(model, msgs, opts)
		without := c.Count(model, msgs, nil)
		assert.GreaterOrEqual(t, b, n, model)
		assert.Greater(t, n, without+toolDefOverhead, model)
	}
}

func TestCountConcurrent(t *testing.T) {
	c := NewCounter()
	opts := &llms.CallOptions{Tools: []llms.Tool{
		{Type: "function", Function: &llms.FunctionDefinition{Name: "a", Parameters: &customSchema{Type: "object"}}},
		{Type: "function", Function: &llms.FunctionDefinition{Name: "b", Parameters: map[string]any{"type": "object"}}},
	}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				msgs := []llms.MessageContent{human(llms.TextPart(fmt.Sprintf("message %d of %d: %s", i, g%2, corpus["english"])))}
				b, n := c.Bound("gpt-4o", msgs, opts), c.Count("gpt-4o", msgs, opts)
				if n > b || n <= 0 {
					t.Errorf("count %d, bound %d", n, b)
				}
			}
		})
	}
	wg.Wait()
}

func TestPreload(t *testing.T) {
	require.NoError(t, Preload())
	require.NoError(t, Preload())
}
