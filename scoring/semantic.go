package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Embedder turns texts into vectors. langchaingo's embeddings.Embedder
// (OpenAI, Ollama, Voyage, … through embeddings.NewEmbedder) satisfies it,
// so any of them can back a Semantic scorer; HashEmbedder is an offline one.
type Embedder interface {
	EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error)
	EmbedQuery(ctx context.Context, text string) ([]float32, error)
}

// Exemplar is a labelled example for the Semantic scorer: a text and how
// much it needs the capable model (for instance 1 for "needs it", 0 for
// "does not", or a rate in between).
type Exemplar struct {
	Text  string
	Score float64
}

// EmbeddingCache stores exemplar embeddings across restarts, keyed by a
// digest of the embedder namespace and the text. Implementations must be
// safe for concurrent use.
type EmbeddingCache interface {
	Get(key string) ([]float32, bool)
	Put(key string, vec []float32)
}

// SemanticOption configures NewSemantic.
type SemanticOption func(*semanticConfig)

type semanticConfig struct {
	k         int
	cache     EmbeddingCache
	namespace string
}

// WithNeighbors sets how many nearest exemplars vote (default 8).
func WithNeighbors(k int) SemanticOption { return func(c *semanticConfig) { c.k = k } }

// WithEmbeddingCache makes NewSemantic read exemplar embeddings from cache
// and store the ones it computes, so a restart does not re-embed them.
func WithEmbeddingCache(cache EmbeddingCache) SemanticOption {
	return func(c *semanticConfig) { c.cache = cache }
}

// WithCacheNamespace sets the namespace of the cache keys: name the embedder
// and model (e.g. "openai/text-embedding-3-small") so that vectors of
// different embedders never mix. Default "".
func WithCacheNamespace(ns string) SemanticOption {
	return func(c *semanticConfig) { c.namespace = ns }
}

// Semantic scores a request by its similarity-weighted nearest exemplars:
// the request's last user message is embedded, compared by cosine
// similarity with every exemplar, and the score is the mean of the k most
// similar exemplars' scores weighted by their (positive) similarity. Scores
// lie between the smallest and the largest exemplar score. It is safe for
// concurrent use. Each Score makes one EmbedQuery call.
type Semantic struct {
	emb    Embedder
	k      int
	vecs   [][]float32 // normalized exemplar embeddings
	scores []float64
	dim    int
}

var _ Scorer = (*Semantic)(nil)

// NewSemantic embeds the exemplars (once, through the cache if any) and
// returns the scorer.
func NewSemantic(ctx context.Context, emb Embedder, exemplars []Exemplar, opts ...SemanticOption) (*Semantic, error) {
	cfg := semanticConfig{k: 8}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if emb == nil {
		return nil, errors.New("scoring: nil Embedder")
	}
	if len(exemplars) == 0 {
		return nil, errors.New("scoring: no exemplars")
	}
	if cfg.k < 1 {
		return nil, fmt.Errorf("scoring: neighbors %d, want ≥ 1", cfg.k)
	}
	s := &Semantic{emb: emb, k: cfg.k, vecs: make([][]float32, len(exemplars)), scores: make([]float64, len(exemplars))}
	keys := make([]string, len(exemplars))
	var missing []int
	for i, ex := range exemplars {
		if !finite(ex.Score) {
			return nil, fmt.Errorf("scoring: exemplar %d: score %v", i, ex.Score)
		}
		s.scores[i] = ex.Score
		keys[i] = CacheKey(cfg.namespace, ex.Text)
		if cfg.cache != nil {
			if v, ok := cfg.cache.Get(keys[i]); ok {
				s.vecs[i] = v
				continue
			}
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		texts := make([]string, len(missing))
		for j, i := range missing {
			texts[j] = exemplars[i].Text
		}
		vecs, err := emb.EmbedDocuments(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("scoring: embedding exemplars: %w", err)
		}
		if len(vecs) != len(texts) {
			return nil, fmt.Errorf("scoring: embedder returned %d vectors for %d exemplars", len(vecs), len(texts))
		}
		for j, i := range missing {
			s.vecs[i] = vecs[j]
			if cfg.cache != nil {
				cfg.cache.Put(keys[i], vecs[j])
			}
		}
	}
	for i, v := range s.vecs {
		if len(v) == 0 {
			return nil, fmt.Errorf("scoring: exemplar %d: empty embedding", i)
		}
		if i == 0 {
			s.dim = len(v)
		} else if len(v) != s.dim {
			return nil, fmt.Errorf("scoring: exemplar %d: embedding has %d dimensions, want %d", i, len(v), s.dim)
		}
		s.vecs[i] = normalized(v)
	}
	return s, nil
}

// Score rates req by its nearest exemplars.
func (s *Semantic) Score(ctx context.Context, req Request) (float64, error) {
	text := ""
	if fi := focusIndex(req.Messages); fi >= 0 {
		text = req.Messages[fi].Text
	}
	q, err := s.emb.EmbedQuery(ctx, text)
	if err != nil {
		return 0, fmt.Errorf("scoring: embedding the request: %w", err)
	}
	if len(q) != s.dim {
		return 0, fmt.Errorf("scoring: query embedding has %d dimensions, want %d", len(q), s.dim)
	}
	q = normalized(q)
	type nb struct {
		sim float64
		i   int
	}
	nbs := make([]nb, len(s.vecs))
	for i, v := range s.vecs {
		var d float64
		for j := range v {
			d += float64(v[j]) * float64(q[j])
		}
		nbs[i] = nb{d, i}
	}
	sort.Slice(nbs, func(a, b int) bool {
		if nbs[a].sim != nbs[b].sim {
			return nbs[a].sim > nbs[b].sim
		}
		return nbs[a].i < nbs[b].i
	})
	k := min(s.k, len(nbs))
	var num, den, plain float64
	for _, n := range nbs[:k] {
		plain += s.scores[n.i]
		if n.sim > 0 {
			num += n.sim * s.scores[n.i]
			den += n.sim
		}
	}
	if den == 0 {
		return plain / float64(k), nil
	}
	return num / den, nil
}

func normalized(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n == 0 || !finite(n) {
		return out
	}
	inv := 1 / math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

// CacheKey is the EmbeddingCache key of text under namespace: a SHA-256
// hex digest, so caches never hold the texts themselves.
func CacheKey(namespace, text string) string {
	h := sha256.New()
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil))
}

// FileCache is an EmbeddingCache kept in memory and saved to a JSON file.
// It is safe for concurrent use.
type FileCache struct {
	path string
	mu   sync.Mutex
	m    map[string][]float32
}

// OpenFileCache reads the cache at path; a missing file is an empty cache.
func OpenFileCache(path string) (*FileCache, error) {
	c := &FileCache{path: path, m: map[string][]float32{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scoring: embedding cache: %w", err)
	}
	if err := json.Unmarshal(b, &c.m); err != nil {
		return nil, fmt.Errorf("scoring: embedding cache %s: %w", path, err)
	}
	return c, nil
}

// Get implements EmbeddingCache.
func (c *FileCache) Get(key string) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// Put implements EmbeddingCache.
func (c *FileCache) Put(key string, vec []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = append([]float32(nil), vec...)
}

// Save writes the cache to its file (keys sorted: encoding/json sorts map
// keys).
func (c *FileCache) Save() error {
	c.mu.Lock()
	b, err := json.Marshal(c.m)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("scoring: embedding cache: %w", err)
	}
	return os.Rename(tmp, c.path)
}

// HashEmbedder is an offline, deterministic Embedder: the L2-normalized
// counts of a text's lower-cased character trigrams and words hashed into
// Dim dimensions. It captures wording, not meaning; use it for tests and
// for offline exemplar scoring. The zero value uses 256 dimensions.
type HashEmbedder struct {
	Dim int
}

var _ Embedder = HashEmbedder{}

// EmbedDocuments implements Embedder.
func (h HashEmbedder) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, err := h.EmbedQuery(ctx, t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// EmbedQuery implements Embedder.
func (h HashEmbedder) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dim := h.Dim
	if dim <= 0 {
		dim = 256
	}
	v := make([]float32, dim)
	add := func(s string) {
		x := uint32(fnvOffset)
		for i := 0; i < len(s); i++ {
			x ^= uint32(s[i])
			x *= fnvPrime
		}
		sign := float32(1)
		if x&(1<<31) != 0 {
			sign = -1
		}
		v[int(x%uint32(dim))] += sign
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		add("w:" + w)
		if utf8.RuneCountInString(w) < 3 {
			continue
		}
		p := " " + w + " "
		rs := []rune(p)
		for i := 0; i+3 <= len(rs); i++ {
			add(string(rs[i : i+3]))
		}
	}
	return normalized(v), nil
}
