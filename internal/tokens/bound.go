package tokens

import (
	"bytes"
	"encoding/base64"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/tmc/langchaingo/llms"
)

// Overheads, in tokens. They are generous: chat formats spend 3 to 4 tokens
// per message on role and delimiters (OpenAI: <|start|>role<|message|>…
// <|end|>) and 3 to prime the reply.
const (
	requestOverhead  = 16 // per request
	messageOverhead  = 8  // per message: role and delimiters
	partOverhead     = 1  // per part: separators, merges across part boundaries
	toolCallOverhead = 16 // per ToolCall or ToolCallResponse part: framing
	toolDefOverhead  = 32 // per tool or function definition
	// toolsOverheadAnthropic is Anthropic's tool-use system prompt, charged
	// when a request defines tools: 530 tokens at most (Claude 3 Opus;
	// Claude 4: 346), rounded up.
	toolsOverheadAnthropic = 600
	// toolsOverhead is the tool preamble of other providers (OpenAI's
	// "namespace functions {…}" wrapper is about 20 tokens).
	toolsOverhead = 64
	// binaryOverhead frames a binary part.
	binaryOverhead = 64
	// pdfPageTokens is charged per PDF page on top of its bytes: providers
	// send each page as an image (Anthropic about 1,600 tokens, OpenAI up to
	// 1,445) and its extracted text.
	pdfPageTokens = 4_000
	// unknownPartTokens is charged for a part type this package does not
	// know (langchaingo's set is closed today) and for CachedContent nested
	// more than maxUnwrap deep.
	unknownPartTokens = 4_096
	maxUnwrap         = 16
)

// Counter bounds and counts the input tokens of langchaingo requests. It is
// safe for concurrent use. The zero value is ready to use; [NewCounter]
// returns one.
type Counter struct {
	schemas schemaCache
	cache   msgCache
	// encoded counts the bytes given to the tokenizer (cache misses).
	encoded atomic.Int64
}

// NewCounter returns a Counter with an empty cache. The tokenizer
// vocabularies are shared by all Counters and built on first use (see
// [Preload]).
func NewCounter() *Counter { return &Counter{} }

// tally accumulates a bound or a count.
type tally struct {
	model string
	fam   Family
	rule  imageRule // valid when ruled
	ruled bool
	text  int64 // Bound: text bytes (an invalid byte counts 3). Count: text tokens.
	strs  int64 // text strings (SentencePiece may add a token to each)
	fixed int64 // overheads, images, binary parts, tool definitions
	// Count only.
	digits, nonASCII int64
}

// Bound returns a guaranteed upper bound on the input tokens of a request to
// model, in O(total bytes) and without allocating for text.
//
// Text: every token of a byte-level BPE (OpenAI's encodings, Claude, Llama 3,
// Mistral's tekken, Qwen) is at least one byte of UTF-8, so the byte length
// bounds the token count. Invalid UTF-8 is sent as U+FFFD (three bytes) by
// encoding/json, so each invalid byte counts three. SentencePiece with byte
// fallback and no expanding normalization (Gemini/Gemma, Llama 2, Mistral
// v1–v3) emits at most one token per byte plus a dummy-prefix token per
// segment; for FamilyGemini and FamilyOther Bound adds one token per string
// and 25% for tokenizers it cannot inspect.
//
// On top: 16 tokens per request, 8 per message, 1 per part, 16 per tool call
// or tool result (their IDs, names and arguments are text), tool and
// function definitions (name, description and the JSON of the parameters,
// × 1.5 for the provider's re-rendering of the schema, + 32 each, + 600 once
// for Anthropic's tool-use system prompt or 64 for others), images by the
// provider's rule (see imageRule) and binary parts by a byte rule (see
// binaryTokens). Metadata and stop words are not input tokens.
func (c *Counter) Bound(model string, msgs []llms.MessageContent, opts *llms.CallOptions) int64 {
	n, _ := c.bound(model, msgs, opts)
	return n
}

// bound returns Bound and the total bytes of text.
func (c *Counter) bound(model string, msgs []llms.MessageContent, opts *llms.CallOptions) (int64, int64) {
	t := tally{model: model, fixed: requestOverhead}
	t.fam, _ = classify(model, false)
	for i := range msgs {
		t.fixed += messageOverhead
		for _, p := range msgs[i].Parts {
			c.boundPart(&t, p, 0)
		}
	}
	t.fixed += c.toolsBound(t.fam, opts)
	return t.boundTotal(), t.text
}

// imageRule returns the model's image rule, computed on first use: most
// requests have no image.
func (t *tally) imageRule() imageRule {
	if !t.ruled {
		_, t.rule = classify(t.model, true)
		t.ruled = true
	}
	return t.rule
}

func (t *tally) boundTotal() int64 {
	text := t.text
	if t.fam == FamilyGemini || t.fam == FamilyOther {
		text += text/4 + t.strs
	}
	return text + t.fixed
}

func (t *tally) addText(s string) {
	if len(s) > 0 {
		t.text += textBytes(s)
		t.strs++
	}
}

// textBytes is the length of s as the provider receives it: each invalid
// byte becomes U+FFFD (3 bytes).
func textBytes(s string) int64 {
	if utf8.ValidString(s) {
		return int64(len(s))
	}
	n := int64(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 2
		}
		i += size
	}
	return n
}

func textBytesOf(b []byte) int64 {
	if utf8.Valid(b) {
		return int64(len(b))
	}
	n := int64(len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			n += 2
		}
		i += size
	}
	return n
}

func (c *Counter) boundPart(t *tally, p llms.ContentPart, depth int) {
	t.fixed += partOverhead
	switch x := p.(type) {
	case llms.TextContent:
		t.addText(x.Text)
	case *llms.TextContent:
		if x != nil {
			t.addText(x.Text)
		}
	case llms.ToolCall:
		t.boundToolCall(&x)
	case *llms.ToolCall:
		if x != nil {
			t.boundToolCall(x)
		}
	case llms.ToolCallResponse:
		t.boundToolResponse(&x)
	case *llms.ToolCallResponse:
		if x != nil {
			t.boundToolResponse(x)
		}
	case llms.ImageURLContent:
		t.fixed += imageURLTokens(t, x.URL, x.Detail)
	case *llms.ImageURLContent:
		if x != nil {
			t.fixed += imageURLTokens(t, x.URL, x.Detail)
		}
	case llms.BinaryContent:
		t.fixed += binaryTokens(t, x.MIMEType, x.Data)
	case *llms.BinaryContent:
		if x != nil {
			t.fixed += binaryTokens(t, x.MIMEType, x.Data)
		}
	case llms.CachedContent:
		c.boundCached(t, x.ContentPart, depth)
	case *llms.CachedContent:
		if x != nil {
			c.boundCached(t, x.ContentPart, depth)
		}
	case nil:
	default:
		t.fixed += unknownPartTokens
	}
}

func (c *Counter) boundCached(t *tally, p llms.ContentPart, depth int) {
	if depth >= maxUnwrap {
		t.fixed += unknownPartTokens
		return
	}
	t.fixed -= partOverhead // the wrapper is not a part of its own
	c.boundPart(t, p, depth+1)
}

func (t *tally) boundToolCall(x *llms.ToolCall) {
	t.fixed += toolCallOverhead
	t.addText(x.ID)
	t.addText(x.Type)
	if x.FunctionCall != nil {
		t.addText(x.FunctionCall.Name)
		t.addText(x.FunctionCall.Arguments)
	}
}

func (t *tally) boundToolResponse(x *llms.ToolCallResponse) {
	t.fixed += toolCallOverhead
	t.addText(x.ToolCallID)
	t.addText(x.Name)
	t.addText(x.Content)
}

// toolsBound bounds the tool and function definitions of opts.
func (c *Counter) toolsBound(fam Family, opts *llms.CallOptions) int64 {
	if opts == nil || len(opts.Tools)+len(opts.Functions) == 0 {
		return 0
	}
	var n int64
	for i := range opts.Tools {
		n += textBytes(opts.Tools[i].Type)
		if f := opts.Tools[i].Function; f != nil {
			n += c.functionBytes(f)
		}
	}
	for i := range opts.Functions {
		n += c.functionBytes(&opts.Functions[i])
	}
	n = n + n/2 + toolDefOverhead*int64(len(opts.Tools)+len(opts.Functions))
	n += toolChoiceBytes(opts)
	if fam == FamilyAnthropic {
		return n + toolsOverheadAnthropic
	}
	return n + toolsOverhead
}

func (c *Counter) functionBytes(f *llms.FunctionDefinition) int64 {
	return textBytes(f.Name) + textBytes(f.Description) + c.schemaBytes(f.Parameters)
}

// toolChoiceBytes bounds ToolChoice and FunctionCallBehavior.
func toolChoiceBytes(opts *llms.CallOptions) int64 {
	n := textBytes(string(opts.FunctionCallBehavior))
	switch x := opts.ToolChoice.(type) {
	case nil:
	case string:
		n += textBytes(x)
	case llms.ToolChoice:
		n += 16 + textBytes(x.Type)
		if x.Function != nil {
			n += textBytes(x.Function.Name)
		}
	case *llms.ToolChoice:
		if x != nil {
			n += 16 + textBytes(x.Type)
			if x.Function != nil {
				n += textBytes(x.Function.Name)
			}
		}
	default:
		n += marshalledSize(x)
	}
	return n
}

// imageURLTokens bounds an ImageURLContent: a data: URL is decoded for the
// image's size (or billed as binary when it is not an image); any other URL
// has an unknown size.
func imageURLTokens(t *tally, url, detail string) int64 {
	low := strings.EqualFold(detail, "low")
	mime, payload, b64, ok := dataURL(url)
	if !ok {
		return imageTokens(t.imageRule(), 0, 0, false, low)
	}
	if mime == "" || hasPrefixFoldStr(mime, "image/") {
		if b64 {
			if w, h, ok := dataURLImageSize(payload); ok {
				return imageTokens(t.imageRule(), w, h, true, low)
			}
		}
		return imageTokens(t.imageRule(), 0, 0, false, low)
	}
	// Not an image: bill the decoded bytes as a binary part.
	data := []byte(payload)
	if b64 {
		if d, err := base64.StdEncoding.DecodeString(payload); err == nil {
			data = d
		}
	}
	return binaryTokens(t, mime, data)
}

// binaryTokens bounds a binary part:
//   - an image (by MIME type or magic bytes): the image rule, from the size
//     in its header, or the rule's unknown-size figure;
//   - a PDF: its bytes + 4,000 per page (pages counted by their
//     "/Type /Page" objects, at least one). A heuristic: compressed text
//     streams average well under one token per compressed byte, but a
//     pathological PDF can hold more;
//   - text (text/*, JSON, XML, YAML, CSV, JavaScript): as text;
//   - video: its bytes or 300 tokens per second of its declared length (MP4,
//     MOV, WebM, Matroska headers), whichever is more; an hour when the
//     length cannot be read (see mediaTokens);
//   - audio: its bytes, or 32 tokens per second of its declared length when
//     that is more (Gemini bills 32 a second, OpenAI 10; most codecs spend
//     more than 32 bytes a second anyway);
//   - anything else: its bytes.
//
// Each binary part also costs 64 tokens of framing.
func binaryTokens(t *tally, mime string, data []byte) int64 {
	switch {
	case isImage(mime, data):
		w, h, ok := imageSize(bytes.NewReader(data))
		return binaryOverhead + imageTokens(t.imageRule(), w, h, ok, false)
	case strings.Contains(strings.ToLower(mime), "pdf") || bytes.HasPrefix(data, []byte("%PDF-")):
		return binaryOverhead + int64(len(data)) + pdfPageTokens*pdfPages(data)
	case isTextMIME(mime):
		n := textBytesOf(data)
		if t.fam == FamilyGemini || t.fam == FamilyOther {
			n += n/4 + 1
		}
		return binaryOverhead + n
	}
	if n, ok := mediaTokens(mime, data); ok {
		return binaryOverhead + n
	}
	return binaryOverhead + int64(len(data))
}

func isTextMIME(mime string) bool {
	m := strings.ToLower(mime)
	if strings.HasPrefix(m, "text/") {
		return true
	}
	for _, s := range []string{"json", "xml", "yaml", "csv", "javascript", "markdown"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// pdfPages counts the page objects of a PDF ("/Type /Page" or "/Type/Page"
// not followed by "s"), at least one.
func pdfPages(data []byte) int64 {
	var n int64
	for _, pat := range [][]byte{[]byte("/Type /Page"), []byte("/Type/Page")} {
		for rest := data; ; {
			i := bytes.Index(rest, pat)
			if i < 0 {
				break
			}
			rest = rest[i+len(pat):]
			if len(rest) == 0 || rest[0] != 's' {
				n++
			}
		}
	}
	return max(n, 1)
}
