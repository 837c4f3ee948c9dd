package tokens

import (
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/tmc/langchaingo/llms"
)

// CountLimit is the total text size (bytes) above which [Counter.Count]
// does not tokenize and returns [Counter.Bound]: tiktoken-go encodes about
// 0.5 M tokens per second, so 1 MiB costs about half a second.
const CountLimit = 1 << 20

// Conservative factors applied to cl100k counts for tokenizers that are not
// public or not in Go, in percent.
const (
	// anthropicFactor: Claude 3.5 measured about +16% on English, +21% on
	// math and +30% on Python against cl100k; newer Claude tokenizers up to
	// about 1.45×.
	anthropicFactor = 145
	// geminiFactor: Gemini/Gemma's 256k SentencePiece vocabulary is within
	// about ±10% of cl100k on English and code and denser on most other
	// scripts, but it splits numbers into single digits where cl100k groups
	// three: Count adds one token per digit on top of 1.25×.
	geminiFactor = 125
	// otherFactor: unknown tokenizers range from tiktoken-like 100k+
	// vocabularies (Llama 3, Qwen, DeepSeek: about 1×) to 32k SentencePiece
	// vocabularies (Llama 2, Mistral v1: about 1.3–1.5× on English, digits
	// split, byte fallback on scripts outside the vocabulary): 1.6×, plus
	// one token per digit and half a token per non-ASCII byte.
	otherFactor = 160
)

// maxPiece is the longest run of same-class characters (letters,
// punctuation or spaces: one pre-tokenizer piece at most) that is given to
// tiktoken-go, whose byte-pair merge is quadratic in the piece length. A
// string with a longer run counts as its byte length.
const maxPiece = 1024

// Count returns a tighter upper-bound estimate of the input tokens of a
// request to model, never above [Counter.Bound]:
//   - OpenAI families: exact o200k_base or cl100k_base counts of every text
//     (tiktoken-go, embedded vocabularies, never the network) plus the
//     overheads of Bound;
//   - Anthropic: cl100k counts × 1.45;
//   - Gemini: cl100k counts × 1.25 + one token per digit;
//   - others: cl100k counts × 1.6 + one token per digit + one per two
//     non-ASCII bytes.
//
// Images, binary parts and overheads count as in Bound; tool definitions
// count as tokens instead of bytes (× 1.5 + 32 each, and the same family
// factor). Per-message text counts are cached by a hash of the message's role
// and text (a bounded cache shared by the Counter's callers), so an agent
// resending its growing history pays only for the new messages; tool
// definitions are cached by content. Text larger than [CountLimit] in total
// is not tokenized: Count returns Bound.
//
// Counts are cached under a 64-bit hash: a collision (probability about
// 2⁻⁶⁴ per pair) would reuse another message's count.
//
// The first Count for a family builds its vocabulary (0.1–0.3 s for cl100k
// and 0.2–0.7 s for o200k, 11 and 22 MiB of heap); call [Preload] at
// start-up to pay that early.
func (c *Counter) Count(model string, msgs []llms.MessageContent, opts *llms.CallOptions) int64 {
	bound, textTotal := c.bound(model, msgs, opts)
	if textTotal > CountLimit {
		return bound
	}
	t := tally{model: model, fixed: requestOverhead}
	t.fam, _ = classify(model, false)
	enc := cl100k
	if t.fam == FamilyO200k {
		enc = o200k
	}
	tk, err := enc.get()
	if err != nil {
		return bound
	}
	for i := range msgs {
		t.fixed += messageOverhead
		e := c.message(enc, tk, &msgs[i])
		t.text += e.tokens
		t.digits += e.digits
		t.nonASCII += e.nonASCII
		for _, p := range msgs[i].Parts {
			c.countPartFixed(&t, p, 0)
		}
	}
	n := t.scale(t.text) + t.fixed + c.toolsCount(&t, enc, tk, opts)
	return min(n, bound)
}

// scale applies the family's factor to a cl100k count.
func (t *tally) scale(tokens int64) int64 {
	switch t.fam {
	case FamilyO200k, FamilyCL100k:
		return tokens
	case FamilyAnthropic:
		return ceilDiv(tokens*anthropicFactor, 100)
	case FamilyGemini:
		return ceilDiv(tokens*geminiFactor, 100) + t.digits
	default:
		return ceilDiv(tokens*otherFactor, 100) + t.digits + t.nonASCII/2
	}
}

// countPartFixed adds what Count does not tokenize: overheads, images and
// binary parts (text inside a binary part stays a byte bound).
func (c *Counter) countPartFixed(t *tally, p llms.ContentPart, depth int) {
	switch x := p.(type) {
	case llms.TextContent, *llms.TextContent, nil:
		t.fixed += partOverhead
	case llms.ToolCall, *llms.ToolCall, llms.ToolCallResponse, *llms.ToolCallResponse:
		t.fixed += partOverhead + toolCallOverhead
	case llms.CachedContent:
		if depth < maxUnwrap {
			c.countPartFixed(t, x.ContentPart, depth+1)
			return
		}
		t.fixed += partOverhead + unknownPartTokens
	case *llms.CachedContent:
		switch {
		case x == nil:
			t.fixed += partOverhead
		case depth < maxUnwrap:
			c.countPartFixed(t, x.ContentPart, depth+1)
		default:
			t.fixed += partOverhead + unknownPartTokens
		}
	default:
		u := tally{model: t.model, fam: t.fam, rule: t.rule, ruled: t.ruled}
		c.boundPart(&u, p, depth)
		t.fixed += u.fixed
		t.rule, t.ruled = u.rule, u.ruled
	}
}

// eachString calls fn with a tag and every text-bearing string of p, in
// order: the strings Count tokenizes.
func eachString(p llms.ContentPart, depth int, fn func(tag byte, s string)) {
	switch x := p.(type) {
	case llms.TextContent:
		fn('t', x.Text)
	case *llms.TextContent:
		if x != nil {
			fn('t', x.Text)
		}
	case llms.ToolCall:
		toolCallStrings(&x, fn)
	case *llms.ToolCall:
		if x != nil {
			toolCallStrings(x, fn)
		}
	case llms.ToolCallResponse:
		fn('r', x.ToolCallID)
		fn('n', x.Name)
		fn('c', x.Content)
	case *llms.ToolCallResponse:
		if x != nil {
			fn('r', x.ToolCallID)
			fn('n', x.Name)
			fn('c', x.Content)
		}
	case llms.CachedContent:
		if depth < maxUnwrap {
			eachString(x.ContentPart, depth+1, fn)
		}
	case *llms.CachedContent:
		if x != nil && depth < maxUnwrap {
			eachString(x.ContentPart, depth+1, fn)
		}
	}
}

func toolCallStrings(x *llms.ToolCall, fn func(tag byte, s string)) {
	fn('i', x.ID)
	fn('y', x.Type)
	if x.FunctionCall != nil {
		fn('f', x.FunctionCall.Name)
		fn('a', x.FunctionCall.Arguments)
	}
}

var hashSeed = maphash.MakeSeed()

// writeString writes a tag, the length and the bytes of s: unambiguous.
func writeString(h *maphash.Hash, tag byte, s string) {
	var b [9]byte
	b[0] = tag
	binary.LittleEndian.PutUint64(b[1:], uint64(len(s)))
	_, _ = h.Write(b[:])
	_, _ = h.WriteString(s)
}

// message returns the text counts of one message, from the cache when its
// role and text were seen before with the same encoding.
func (c *Counter) message(enc *encoder, tk *tiktoken.Tiktoken, m *llms.MessageContent) entry {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	_ = h.WriteByte(enc.id)
	writeString(&h, 'R', string(m.Role))
	for _, p := range m.Parts {
		eachString(p, 0, func(tag byte, s string) { writeString(&h, tag, s) })
	}
	key := h.Sum64()
	if e, ok := c.cache.get(key); ok {
		return e
	}
	var e entry
	for _, p := range m.Parts {
		eachString(p, 0, func(_ byte, s string) { e.add(c.countText(tk, s)) })
	}
	c.cache.put(key, e)
	return e
}

// entry is the text count of a message or a tool definition.
type entry struct {
	tokens, digits, nonASCII int64
}

func (e *entry) add(o entry) {
	e.tokens += o.tokens
	e.digits += o.digits
	e.nonASCII += o.nonASCII
}

// countText counts one string exactly, or by its byte length when a
// pre-tokenizer piece would be longer than maxPiece or the tokenizer
// panics.
func (c *Counter) countText(tk *tiktoken.Tiktoken, s string) (e entry) {
	if s == "" {
		return e
	}
	digits, nonASCII, longest := scanText(s)
	e = entry{tokens: textBytes(s), digits: digits, nonASCII: nonASCII}
	if longest > maxPiece {
		return e
	}
	c.encoded.Add(int64(len(s)))
	defer func() { _ = recover() }() // keep the byte count on a tokenizer panic
	e.tokens = int64(len(tk.EncodeOrdinary(s)))
	return e
}

// scanText returns the digits and non-ASCII bytes of s and the longest run
// of same-class characters (letters and marks with apostrophes,
// punctuation and symbols, or white space), in bytes.
func scanText(s string) (digits, nonASCII int64, longest int) {
	const (
		letter = iota + 1
		punct
		space
		digit
	)
	prev, run := 0, 0
	for i := 0; i < len(s); {
		c := s[i]
		size, class := 1, punct
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '\'':
				class = letter
			case '0' <= c && c <= '9':
				class = digit
				digits++
			case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
				class = space
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			nonASCII += int64(size)
			switch {
			case unicode.IsLetter(r), unicode.IsMark(r):
				class = letter
			case unicode.IsNumber(r):
				class = digit
				digits++
			case unicode.IsSpace(r):
				class = space
			}
		}
		if class == prev {
			run += size
		} else {
			prev, run = class, size
		}
		if class != digit {
			longest = max(longest, run)
		}
		i += size
	}
	return digits, nonASCII, longest
}

// toolsCount counts the tool and function definitions of opts in tokens.
func (c *Counter) toolsCount(t *tally, enc *encoder, tk *tiktoken.Tiktoken, opts *llms.CallOptions) int64 {
	if opts == nil || len(opts.Tools)+len(opts.Functions) == 0 {
		return 0
	}
	var n entry
	for i := range opts.Tools {
		n.add(c.countText(tk, opts.Tools[i].Type))
		if f := opts.Tools[i].Function; f != nil {
			n.add(c.function(enc, tk, f))
		}
	}
	for i := range opts.Functions {
		n.add(c.function(enc, tk, &opts.Functions[i]))
	}
	u := tally{fam: t.fam, digits: n.digits, nonASCII: n.nonASCII}
	tokens := u.scale(n.tokens + n.tokens/2)
	tokens += toolDefOverhead*int64(len(opts.Tools)+len(opts.Functions)) + toolChoiceBytes(opts)
	if t.fam == FamilyAnthropic {
		return tokens + toolsOverheadAnthropic
	}
	return tokens + toolsOverhead
}

// function counts one definition, cached by the hash of its name,
// description and marshalled parameters.
func (c *Counter) function(enc *encoder, tk *tiktoken.Tiktoken, f *llms.FunctionDefinition) entry {
	params, err := json.Marshal(f.Parameters)
	if err != nil {
		return entry{tokens: textBytes(f.Name) + textBytes(f.Description) + unmarshalableSchemaBytes}
	}
	var h maphash.Hash
	h.SetSeed(hashSeed)
	_ = h.WriteByte(enc.id)
	writeString(&h, 'F', f.Name)
	writeString(&h, 'D', f.Description)
	_, _ = h.Write(params)
	key := h.Sum64()
	if e, ok := c.cache.get(key); ok {
		return e
	}
	e := c.countText(tk, f.Name)
	e.add(c.countText(tk, f.Description))
	e.add(c.countText(tk, string(params)))
	c.cache.put(key, e)
	return e
}

// The cache: a sharded map with a size cap; when a shard is full an
// arbitrary entry (Go's map iteration starts at a random position) is
// evicted.
const (
	cacheShards   = 16
	cacheShardCap = 4096 // 65,536 entries in all, about 3 MiB
)

type msgCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[uint64]entry
	_  [40]byte // keep shards on separate cache lines
}

func (mc *msgCache) get(key uint64) (entry, bool) {
	s := &mc.shards[key%cacheShards]
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	return e, ok
}

func (mc *msgCache) put(key uint64, e entry) {
	s := &mc.shards[key%cacheShards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[uint64]entry)
	}
	if len(s.m) >= cacheShardCap {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[key] = e
	s.mu.Unlock()
}

// encoder is one tiktoken encoding, built once on first use from the
// vocabulary embedded in tiktoken-go-loader. It does not go through
// tiktoken.GetEncoding, whose process-wide loader downloads vocabularies over
// HTTP unless someone replaced it: the offline loader is called directly,
// whatever the global setting.
type encoder struct {
	id      byte
	name    string
	pattern string // tiktoken-go v0.1.8 encoding.go, verified by a test
	special map[string]int

	once sync.Once
	tk   *tiktoken.Tiktoken
	err  error
}

var (
	o200k = &encoder{
		id:   1,
		name: tiktoken.MODEL_O200K_BASE,
		pattern: `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
			`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?` +
			`|\p{N}{1,3}` +
			`| ?[^\s\p{L}\p{N}]+[\r\n/]*` +
			`|\s*[\r\n]+` +
			`|\s+(?!\S)` +
			`|\s+`,
		special: map[string]int{tiktoken.ENDOFTEXT: 199999, tiktoken.ENDOFPROMPT: 200018},
	}
	cl100k = &encoder{
		id:      2,
		name:    tiktoken.MODEL_CL100K_BASE,
		pattern: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
		special: map[string]int{
			tiktoken.ENDOFTEXT: 100257, tiktoken.FIM_PREFIX: 100258, tiktoken.FIM_MIDDLE: 100259,
			tiktoken.FIM_SUFFIX: 100260, tiktoken.ENDOFPROMPT: 100276,
		},
	}
)

func (e *encoder) get() (*tiktoken.Tiktoken, error) {
	e.once.Do(func() { e.tk, e.err = e.build() })
	return e.tk, e.err
}

func (e *encoder) build() (*tiktoken.Tiktoken, error) {
	ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(e.name + ".tiktoken")
	if err != nil {
		return nil, err
	}
	bpe, err := tiktoken.NewCoreBPE(ranks, e.special, e.pattern)
	if err != nil {
		return nil, err
	}
	set := make(map[string]any, len(e.special))
	for k := range e.special {
		set[k] = true
	}
	enc := &tiktoken.Encoding{Name: e.name, PatStr: e.pattern, MergeableRanks: ranks, SpecialTokens: e.special}
	return tiktoken.NewTiktoken(bpe, enc, set), nil
}

// Preload builds the o200k_base and cl100k_base vocabularies now instead of
// on the first [Counter.Count] (0.3–1 s and 33 MiB of heap in all). It is
// safe to call concurrently and more than once; callers that want it off
// their start-up path run it in a goroutine.
func Preload() error {
	if _, err := o200k.get(); err != nil {
		return err
	}
	_, err := cl100k.get()
	return err
}
