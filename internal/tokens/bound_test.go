package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tmc/langchaingo/jsonschema"
	"github.com/tmc/langchaingo/llms"
)

func human(parts ...llms.ContentPart) llms.MessageContent {
	return llms.MessageContent{Role: llms.ChatMessageTypeHuman, Parts: parts}
}

func TestBoundText(t *testing.T) {
	c := NewCounter()
	one := func(model, s string) int64 {
		return c.Bound(model, []llms.MessageContent{human(llms.TextPart(s))}, nil)
	}
	const fixed = requestOverhead + messageOverhead + partOverhead
	assert.Equal(t, int64(fixed+5), one("gpt-4o", "hello"))
	assert.Equal(t, int64(fixed+5), one("claude-sonnet-4-5", "hello"))
	assert.Equal(t, int64(fixed+9), one("gpt-4", "h\xffi\xc3("), "each invalid byte becomes U+FFFD, 3 bytes")
	assert.Equal(t, int64(fixed+12+3+1), one("gemini-2.5-pro", "hello world!"), "SentencePiece margin: +25% and +1 per string")
	assert.Equal(t, int64(fixed+12+3+1), one("llama3", "hello world!"))
	assert.Equal(t, int64(fixed), one("gpt-4o", ""))
	assert.Equal(t, int64(requestOverhead), c.Bound("gpt-4o", nil, nil))

	// Roles and parts of every kind, values and pointers.
	msgs := []llms.MessageContent{
		{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextContent{Text: "sys"}}},
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{
			llms.ToolCall{ID: "call_1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "f", Arguments: `{"a":1}`}},
			&llms.ToolCall{ID: "c2"},
		}},
		{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
			llms.ToolCallResponse{ToolCallID: "call_1", Name: "f", Content: "42"},
			&llms.ToolCallResponse{Content: "x"},
		}},
		{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{
			&llms.TextContent{Text: "abc"},
			llms.WithCacheControl(llms.TextPart("cached"), &llms.CacheControl{Type: "ephemeral"}),
			&llms.CachedContent{ContentPart: llms.TextPart("ptr")},
			nil,
			(*llms.TextContent)(nil),
		}},
	}
	textBytes := int64(len("sys") + len("call_1function{\"a\":1}f") + len("c2") + len("call_1f42") + len("x") + len("abccachedptr"))
	want := int64(requestOverhead+4*messageOverhead+10*partOverhead+4*toolCallOverhead) + textBytes
	assert.Equal(t, want, c.Bound("gpt-4o", msgs, nil))
}

func TestBoundCachedContentDepth(t *testing.T) {
	var p llms.ContentPart = llms.TextPart("deep")
	for range maxUnwrap + 5 {
		p = llms.CachedContent{ContentPart: p}
	}
	n := NewCounter().Bound("gpt-4o", []llms.MessageContent{human(p)}, nil)
	assert.GreaterOrEqual(t, n, int64(unknownPartTokens), "too deep: charged as unknown")

	// A self-referential pointer does not loop forever.
	cc := &llms.CachedContent{}
	cc.ContentPart = cc
	n = NewCounter().Bound("gpt-4o", []llms.MessageContent{human(cc)}, nil)
	assert.GreaterOrEqual(t, n, int64(unknownPartTokens))
}

func TestBoundNoAllocForText(t *testing.T) {
	c := NewCounter()
	msgs := []llms.MessageContent{
		{Role: llms.ChatMessageTypeSystem, Parts: []llms.ContentPart{llms.TextPart(strings.Repeat("system ", 30))}},
		human(llms.TextPart(strings.Repeat("question? ", 200)), llms.TextPart("\xff invalid")),
		{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{ID: "1", FunctionCall: &llms.FunctionCall{Name: "f", Arguments: "{}"}}}},
	}
	opts := &llms.CallOptions{Tools: []llms.Tool{{Type: "function", Function: &llms.FunctionDefinition{
		Name: "f", Description: "d", Parameters: map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "string"}}},
	}}}}
	allocs := testing.AllocsPerRun(100, func() { _ = c.Bound("gpt-4o", msgs, opts) })
	assert.Zero(t, allocs)
}

func TestBoundHugeAndInvalid(t *testing.T) {
	c := NewCounter()
	huge := strings.Repeat("\xff\xfeabc\xc3", 10<<20) // 50 MiB of mostly invalid UTF-8
	msgs := []llms.MessageContent{human(llms.TextPart(huge))}
	start := time.Now()
	b := c.Bound("gemini-2.5-pro", msgs, nil)
	elapsed := time.Since(start)
	assert.Less(t, elapsed, 5*time.Second)
	assert.Greater(t, b, int64(len(huge)))
	// Count skips tokenization above CountLimit.
	start = time.Now()
	assert.Equal(t, b, c.Count("gemini-2.5-pro", msgs, nil))
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Zero(t, c.encoded.Load())
	t.Logf("Bound of 50 MiB: %v", elapsed)
}

// Images.

func pngOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))))
	return b.Bytes()
}

func jpegOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil))
	return b.Bytes()
}

func gifOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil))
	return b.Bytes()
}

// webpOf builds the first bytes of a WebP file of each kind (RFC 9649).
func webpOf(kind string, w, h int) []byte {
	b := make([]byte, 40)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], 32)
	copy(b[8:], "WEBP")
	copy(b[12:], kind)
	switch kind {
	case "VP8X":
		put24 := func(p []byte, v int) { p[0], p[1], p[2] = byte(v), byte(v>>8), byte(v>>16) }
		put24(b[24:], w-1)
		put24(b[27:], h-1)
	case "VP8L":
		b[20] = 0x2f
		binary.LittleEndian.PutUint32(b[21:], uint32(w-1)|uint32(h-1)<<14)
	case "VP8 ":
		b[23], b[24], b[25] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(b[26:], uint16(w))
		binary.LittleEndian.PutUint16(b[28:], uint16(h))
	}
	return b
}

func TestImageSize(t *testing.T) {
	for name, data := range map[string][]byte{
		"png":  pngOf(t, 640, 480),
		"jpeg": jpegOf(t, 640, 480),
		"gif":  gifOf(t, 640, 480),
		"VP8X": webpOf("VP8X", 640, 480),
		"VP8L": webpOf("VP8L", 640, 480),
		"VP8 ": webpOf("VP8 ", 640, 480),
	} {
		w, h, ok := imageSize(bytes.NewReader(data))
		require.True(t, ok, name)
		assert.Equal(t, [2]int{640, 480}, [2]int{w, h}, name)
		assert.True(t, isImage("", data), name)
		w, h, ok = dataURLImageSize(base64.StdEncoding.EncodeToString(data))
		require.True(t, ok, name)
		assert.Equal(t, [2]int{640, 480}, [2]int{w, h}, name)
	}
	_, _, ok := imageSize(strings.NewReader("not an image at all, not at all"))
	assert.False(t, ok)
	_, _, ok = dataURLImageSize("!!!!")
	assert.False(t, ok)
}

func TestImageTokens(t *testing.T) {
	tests := []struct {
		name  string
		rule  imageRule
		w, h  int
		known bool
		low   bool
		want  int64
	}{
		{"gpt-4o 1024² (OpenAI's example)", imageOpenAITile, 1024, 1024, true, false, 765},
		{"gpt-4o 2048×4096 (OpenAI's example)", imageOpenAITile, 2048, 4096, true, false, 1105},
		{"gpt-4o low", imageOpenAITile, 4000, 4000, true, true, 85},
		{"gpt-4o small", imageOpenAITile, 100, 100, true, false, 255},
		{"gpt-4o unknown size", imageOpenAITile, 0, 0, false, false, 1445},
		{"gpt-4o max tiles", imageOpenAITile, 2048, 768, true, false, 85 + 170*8},
		{"gpt-4o-mini 1024²", imageOpenAIMiniTile, 1024, 1024, true, false, 2833 + 5667*4},
		{"gpt-4o-mini unknown", imageOpenAIMiniTile, 0, 0, false, false, 48_169},
		{"gpt-4o-mini low", imageOpenAIMiniTile, 0, 0, false, true, 2833},
		{"gpt-4.1-mini 1024²", imageOpenAIPatch162, 1024, 1024, true, false, 1659},
		{"gpt-4.1-nano huge", imageOpenAIPatch246, 8000, 8000, true, true, 3779},
		{"o4-mini unknown", imageOpenAIPatch172, 0, 0, false, false, 2642},
		{"unknown OpenAI model", imageOpenAIUnknown, 1024, 1024, true, false, 2520},
		{"claude 1000²", imageAnthropic, 1000, 1000, true, false, 1500},
		{"claude 200²", imageAnthropic, 200, 200, true, false, 60},
		{"claude huge", imageAnthropic, 8000, 8000, true, false, 1800},
		{"claude unknown", imageAnthropic, 0, 0, false, false, 1800},
		{"gemini small", imageGemini, 300, 300, true, false, 1120},
		{"gemini 3000²", imageGemini, 3000, 3000, true, false, 258 * 16},
		{"gemini skewed", imageGemini, 400, 4000, true, false, 258 * 2 * 16},
		{"gemini unknown", imageGemini, 0, 0, false, false, unknownImageTokens},
		{"unknown family", imageUnknown, 1000, 1000, true, false, 6404},
		{"unknown family big", imageUnknown, 4000, 4000, true, false, 16384},
		{"unknown family unknown size", imageUnknown, 0, 0, false, false, unknownImageTokens},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, imageTokens(tt.rule, tt.w, tt.h, tt.known, tt.low), tt.name)
	}
	// Absurd headers are clamped, never overflow.
	assert.Positive(t, imageTokens(imageGemini, 1<<30, 1<<30, true, false))
	assert.Positive(t, imageTokens(imageUnknown, -5, 0, true, false))
}

func TestBoundImages(t *testing.T) {
	c := NewCounter()
	img := pngOf(t, 1024, 1024)
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)
	bound := func(model string, p llms.ContentPart) int64 {
		return c.Bound(model, []llms.MessageContent{human(p)}, nil) - (requestOverhead + messageOverhead + partOverhead)
	}
	assert.Equal(t, int64(765), bound("gpt-4o", llms.ImageURLPart(dataURL)))
	assert.Equal(t, int64(85), bound("gpt-4o", llms.ImageURLWithDetailPart(dataURL, "low")))
	assert.Equal(t, int64(1445), bound("gpt-4o", llms.ImageURLPart("https://example.com/cat.png")))
	assert.Equal(t, int64(1445), bound("gpt-4o", &llms.ImageURLContent{URL: "data:image/png;base64,garbage"}))
	assert.Equal(t, int64(binaryOverhead+765), bound("gpt-4o", llms.BinaryPart("image/png", img)))
	assert.Equal(t, int64(binaryOverhead+765), bound("gpt-4o", &llms.BinaryContent{Data: img}), "sniffed without a MIME type")
	assert.Equal(t, int64(binaryOverhead+1800), bound("claude-sonnet-4-5", llms.BinaryPart("image/png", []byte("corrupt"))))
	assert.Equal(t, int64(binaryOverhead+1500*1), bound("claude-sonnet-4-5", llms.BinaryPart("image/jpeg", jpegOf(t, 1000, 1000))))
	assert.Equal(t, int64(1120), bound("gemini-2.5-pro", llms.ImageURLPart("data:image/gif;base64,"+base64.StdEncoding.EncodeToString(gifOf(t, 100, 100)))))

	// A JPEG whose SOF lies beyond the decoded prefix of a data: URL.
	var big bytes.Buffer
	big.Write([]byte{0xff, 0xd8})
	for range 3 { // three 64 KiB APP segments before the frame header
		big.Write([]byte{0xff, 0xe1, 0xff, 0xff})
		big.Write(make([]byte, 0xffff-2))
	}
	big.Write(jpegOf(t, 1024, 1024)[2:])
	assert.Equal(t, int64(765), bound("gpt-4o", llms.ImageURLPart("data:image/jpeg;base64,"+base64.StdEncoding.EncodeToString(big.Bytes()))))
}

func TestBoundBinary(t *testing.T) {
	c := NewCounter()
	bound := func(model string, p llms.ContentPart) int64 {
		return c.Bound(model, []llms.MessageContent{human(p)}, nil) - (requestOverhead + messageOverhead + partOverhead)
	}
	pdf := []byte("%PDF-1.7\n1 0 obj <</Type /Pages /Count 2>>\n2 0 obj <</Type /Page>>\n3 0 obj <</Type/Page/Parent 1 0 R>>\n%%EOF")
	assert.Equal(t, int64(binaryOverhead+len(pdf)+2*pdfPageTokens), bound("claude-sonnet-4-5", llms.BinaryPart("application/pdf", pdf)))
	assert.Equal(t, int64(binaryOverhead+len(pdf)+2*pdfPageTokens), bound("gpt-4o", llms.BinaryPart("", pdf)))
	assert.Equal(t, int64(binaryOverhead+1000+pdfPageTokens), bound("gpt-4o", llms.BinaryPart("application/pdf", make([]byte, 1000))), "at least one page")
	audio := make([]byte, 5000)
	assert.Equal(t, int64(binaryOverhead+5000), bound("gemini-2.5-flash", llms.BinaryPart("audio/mpeg", audio)))
	assert.Equal(t, int64(binaryOverhead+13), bound("gpt-4o", llms.BinaryPart("text/plain", []byte("hello\xffworld"))))
	assert.Equal(t, int64(binaryOverhead+10+2+1), bound("gemini-2.5-pro", llms.BinaryPart("application/json", []byte(`{"a":"bc"}`))))
	// A non-image data: URL is billed as a binary part.
	assert.Equal(t, int64(binaryOverhead+len(pdf)+2*pdfPageTokens),
		bound("gpt-4o", llms.ImageURLPart("data:application/pdf;base64,"+base64.StdEncoding.EncodeToString(pdf))))
}

// Tools.

type customSchema struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
}

type badSchema struct{ C chan int }

func TestSchemaBytes(t *testing.T) {
	c := NewCounter()
	def := jsonschema.Definition{
		Type:        jsonschema.Object,
		Description: "weather <lookup> & \"more\"",
		Properties: map[string]jsonschema.Definition{
			"city":  {Type: jsonschema.String, Description: "the city\n"},
			"unit":  {Type: jsonschema.String, Enum: []string{"c", "f"}},
			"days":  {Type: jsonschema.Array, Items: &jsonschema.Definition{Type: jsonschema.Integer}},
			"émoji": {Type: jsonschema.String, Description: "🌦\xff"},
		},
		Required: []string{"city"},
	}
	values := map[string]any{
		"map": map[string]any{
			"type": "object", "properties": map[string]any{
				"q":    map[string]string{"title": "<q>", "type": "string"},
				"n":    map[string]any{"type": "integer", "minimum": 1.5, "enum": []any{1, 2, json.Number("3")}},
				"tags": []map[string]any{{"a": nil, "b": true}},
			},
			"required": []string{"q"},
		},
		"definition":   def,
		"*definition":  &def,
		"raw":          json.RawMessage(`{"type":"object"}`),
		"custom":       customSchema{Type: "object", Properties: map[string]any{"x": 1}},
		"*custom":      &customSchema{Type: "object"},
		"string":       `{"type":"object"}`,
		"nil":          nil,
		"[]byte":       []byte("abc"),
		"nested bytes": map[string]any{"b": []byte("0123456789")},
	}
	for name, v := range values {
		want, err := json.Marshal(v)
		require.NoError(t, err, name)
		assert.GreaterOrEqual(t, c.schemaBytes(v), int64(len(want)), name)
		assert.LessOrEqual(t, c.schemaBytes(v), int64(len(want))*3+200, "%s: not absurdly loose", name)
	}
	assert.Equal(t, int64(unmarshalableSchemaBytes), c.schemaBytes(badSchema{C: make(chan int)}))
	assert.Equal(t, int64(unmarshalableSchemaBytes), c.schemaBytes(&badSchema{C: make(chan int)}))

	// A cyclic definition is not marshalled (json.Marshal would recurse
	// through MarshalJSON until the stack overflows).
	cyc := &jsonschema.Definition{Type: jsonschema.Array}
	cyc.Items = cyc
	assert.Equal(t, int64(unmarshalableSchemaBytes), c.schemaBytes(cyc))
	m := map[string]any{}
	m["self"] = m
	assert.Equal(t, int64(unmarshalableSchemaBytes), c.schemaBytes(m))

	// Identity cache for types the walk does not know.
	p := &customSchema{Type: "object"}
	first := c.schemaBytes(p)
	c.schemas.mu.Lock()
	_, cached := c.schemas.m[schemaKey{typ: reflect.TypeOf(p), ptr: unsafe.Pointer(p)}]
	c.schemas.mu.Unlock()
	assert.True(t, cached)
	assert.Equal(t, first, c.schemaBytes(p))
}

func TestBoundTools(t *testing.T) {
	c := NewCounter()
	msgs := []llms.MessageContent{human(llms.TextPart("hi"))}
	base := c.Bound("gpt-4o", msgs, nil)
	params := map[string]any{"type": "object", "properties": map[string]any{"q": map[string]any{"type": "string"}}}
	fd := llms.FunctionDefinition{Name: "search", Description: "Search the web.", Parameters: params}
	pj, _ := json.Marshal(params)
	defBytes := int64(len("search") + len("Search the web.") + len(pj))

	withTools := c.Bound("gpt-4o", msgs, &llms.CallOptions{Tools: []llms.Tool{{Type: "function", Function: &fd}}})
	assert.GreaterOrEqual(t, withTools-base, (defBytes+8)*3/2+toolDefOverhead+toolsOverhead)

	withFunctions := c.Bound("gpt-4o", msgs, &llms.CallOptions{Functions: []llms.FunctionDefinition{fd}})
	assert.GreaterOrEqual(t, withFunctions-base, defBytes*3/2+toolDefOverhead+toolsOverhead)

	claude := c.Bound("claude-sonnet-4-5", msgs, &llms.CallOptions{Functions: []llms.FunctionDefinition{fd}}) - c.Bound("claude-sonnet-4-5", msgs, nil)
	assert.Equal(t, withFunctions-base-toolsOverhead+toolsOverheadAnthropic, claude)

	choice := c.Bound("gpt-4o", msgs, &llms.CallOptions{
		Functions: []llms.FunctionDefinition{fd}, ToolChoice: llms.ToolChoice{Type: "function", Function: &llms.FunctionReference{Name: "search"}},
	})
	assert.Greater(t, choice, withFunctions)
	nilFn := c.Bound("gpt-4o", msgs, &llms.CallOptions{Tools: []llms.Tool{{Type: "function"}}})
	assert.Greater(t, nilFn, base)
}
