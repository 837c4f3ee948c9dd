package tokens

import (
	"hash/maphash"

	"github.com/pkoukk/tiktoken-go"
)

// TextCountLimit is the total size (bytes) of texts above which
// [Counter.CountTexts] callers that count off the request's critical path
// (an embedder counts while its provider works) should stop tokenizing:
// about four seconds of tiktoken-go.
const TextCountLimit = 8 << 20

// TextsBound returns a guaranteed upper bound on the tokens of texts given to
// model as separate inputs with no framing, as in an embeddings request: the
// bytes of the texts (an invalid UTF-8 byte counts three, see Bound) and, for
// FamilyGemini and FamilyOther, 25% more and one token per non-empty text. It
// runs in O(total bytes) without allocating.
func TextsBound(model string, texts []string) int64 {
	n, _ := textsBound(FamilyOf(model), texts)
	return n
}

// textsBound returns TextsBound and the total bytes of text.
func textsBound(fam Family, texts []string) (bound, total int64) {
	t := tally{fam: fam}
	for _, s := range texts {
		t.addText(s)
	}
	return t.boundTotal(), t.text
}

// CountTexts returns the tokens of texts given to model as separate inputs
// with no framing (the inputs of an embeddings request) and whether the count
// is exact. It is exact for OpenAI's encodings (Family.Exact: the sum of each
// text's o200k_base or cl100k_base count, as the provider counts its input)
// when the texts total at most maxBytes bytes and none has a pre-tokenizer
// piece too long to tokenize (see Count). Otherwise, and for every other
// family, it returns TextsBound and false without tokenizing. Exact counts
// are cached per text in the Counter's cache, so texts seen before (a repeated
// query) cost a hash.
func (c *Counter) CountTexts(model string, texts []string, maxBytes int64) (int64, bool) {
	fam := FamilyOf(model)
	bound, total := textsBound(fam, texts)
	if !fam.Exact() || total > maxBytes {
		return bound, false
	}
	enc := cl100k
	if fam == FamilyO200k {
		enc = o200k
	}
	tk, err := enc.get()
	if err != nil {
		return bound, false
	}
	var n int64
	for _, s := range texts {
		k, ok := c.text(enc, tk, s)
		if !ok {
			return bound, false
		}
		n += k
	}
	return n, true
}

// text counts one text exactly, from the cache when it was counted before;
// false when it cannot be tokenized exactly (a piece longer than maxPiece, a
// tokenizer panic). Only exact counts are cached.
func (c *Counter) text(enc *encoder, tk *tiktoken.Tiktoken, s string) (n int64, ok bool) {
	if s == "" {
		return 0, true
	}
	var h maphash.Hash
	h.SetSeed(hashSeed)
	_ = h.WriteByte(enc.id)
	writeString(&h, 'E', s)
	key := h.Sum64()
	if e, hit := c.cache.get(key); hit {
		return e.tokens, true
	}
	if _, _, longest := scanText(s); longest > maxPiece {
		return 0, false
	}
	c.encoded.Add(int64(len(s)))
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	n = int64(len(tk.EncodeOrdinary(s)))
	c.cache.put(key, entry{tokens: n})
	return n, true
}
