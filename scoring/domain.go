package scoring

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// The domain classifier infers which of the training groups (topics, task
// types: the MMLU subjects, "gsm8k") a request resembles from its wording,
// and turns that into the domain_gap feature: the gap rate (share of
// prompts where the capable model is right and the cheap one wrong)
// expected under the predicted group distribution. It is a multinomial
// naive Bayes over hashed words: each group's word counts are learned from
// the training prompts, nothing is written by hand.
//
// Only content words count (function words and words addressed to a scorer
// are ignored), each distinct word once, and only the first
// domainMaxWords distinct words the classifier knows: the domain of a
// request shows in its first sentences, and the cost stays bounded.
const (
	domainMaxWords   = 32
	domainMaxClasses = 255
	// domainSmoothing pulls a group's gap rate toward the overall rate with
	// this many pseudo-prompts.
	domainSmoothing = 10
)

// domainClass is one group of the classifier.
type domainClass struct {
	Name    string  `json:"name"`
	Prompts int     `json:"prompts"`
	Words   int64   `json:"words"`
	Gap     float64 `json:"gap"`
}

// domainModel is a trained classifier in compressed-sparse-row form: the
// entries of bucket b are cls[off[b]:off[b+1]] with log1p(count/alpha),
// rounded to float32, in val.
type domainModel struct {
	alpha   float64
	classes []domainClass
	prior   []float64 // log share of prompts
	base    []float64 // log(alpha / (words + alpha·vocabSize))
	off     []int32   // vocabSize+1
	cls     []uint8
	val     []float64 // float32-rounded
	count   []uint32  // raw counts, kept for MarshalJSON
}

// known reports whether the classifier has counts for bucket b.
func (d *domainModel) known(b uint32) bool { return d.off[b+1] > d.off[b] }

// expectedGap is the gap rate expected under the posterior over groups
// given the distinct known buckets bk (already filtered and capped).
func (d *domainModel) expectedGap(bk []uint32) float64 {
	var s [256]float64 // indexed by a uint8 class: no bounds checks
	k := len(d.classes)
	cls, val := d.cls, d.val
	for _, b := range bk {
		lo, hi := d.off[b], d.off[b+1]
		cs, vs := cls[lo:hi], val[lo:hi]
		vs = vs[:len(cs)]
		for j, c := range cs {
			s[c] += vs[j]
		}
	}
	nk := float64(len(bk))
	best := math.Inf(-1)
	for c := 0; c < k; c++ {
		s[c] += d.prior[c] + nk*d.base[c]
		if s[c] > best {
			best = s[c]
		}
	}
	var z, g float64
	for c := 0; c < k; c++ {
		x := s[c] - best
		if x < -40 { // exp(-40) ≈ 4e-18: negligible
			continue
		}
		e := math.Exp(x)
		z += e
		g += e * d.classes[c].Gap
	}
	return g / z
}

// domainWords keeps the buckets of bk the classifier reads: content words it
// knows, at most domainMaxWords, in order.
func (d *domainModel) domainWords(bk []uint32, out []uint32) []uint32 {
	out = out[:0]
	for _, b := range bk {
		if len(out) == domainMaxWords {
			break
		}
		if wordClass[b]&cStop == 0 && d.known(b) {
			out = append(out, b)
		}
	}
	return out
}

// buildDomain counts the words of the included examples per class. class[i]
// is example i's class (−1: none), gap[i] its gap label. It returns nil when
// fewer than two classes have examples.
func buildDomain(names []string, class []int, gap []float64, buckets [][]uint32, include func(int) bool, alpha float64) *domainModel {
	k := len(names)
	cnt := make([][]uint32, vocabSize)
	cs := make([]domainClass, k)
	gs := make([]float64, k)
	var gall, nall float64
	for i, bk := range buckets {
		c := class[i]
		if c < 0 || !include(i) {
			continue
		}
		cs[c].Prompts++
		gs[c] += gap[i]
		gall += gap[i]
		nall++
		for _, b := range bk {
			if wordClass[b]&cStop != 0 {
				continue
			}
			if cnt[b] == nil {
				cnt[b] = make([]uint32, k)
			}
			cnt[b][c]++
			cs[c].Words++
		}
	}
	present := 0
	for c := range cs {
		cs[c].Name = names[c]
		if cs[c].Prompts > 0 {
			present++
		}
	}
	if present < 2 {
		return nil
	}
	mu := gall / nall
	for c := range cs {
		cs[c].Gap = round6((gs[c] + domainSmoothing*mu) / (float64(cs[c].Prompts) + domainSmoothing))
	}
	var bk []uint32
	var cl []uint8
	var ct []uint32
	for b, row := range cnt {
		for c, n := range row {
			if n > 0 {
				bk = append(bk, uint32(b))
				cl = append(cl, uint8(c))
				ct = append(ct, n)
			}
		}
	}
	d, err := newDomain(alpha, cs, bk, cl, ct)
	if err != nil { // cannot happen: the counts are consistent by construction
		return nil
	}
	return d
}

// newDomain builds a classifier from its classes and sparse counts, sorted
// by bucket then class.
func newDomain(alpha float64, classes []domainClass, bk []uint32, cl []uint8, ct []uint32) (*domainModel, error) {
	k := len(classes)
	if k < 2 || k > domainMaxClasses {
		return nil, fmt.Errorf("%d domain classes, want 2..%d", k, domainMaxClasses)
	}
	if !(alpha > 0) || !finite(alpha) {
		return nil, fmt.Errorf("domain smoothing %v must be > 0", alpha)
	}
	d := &domainModel{alpha: alpha, classes: classes, prior: make([]float64, k), base: make([]float64, k),
		off: make([]int32, vocabSize+1), cls: cl, val: make([]float64, len(ct)), count: ct}
	var total float64
	for _, c := range classes {
		if c.Prompts < 0 || c.Words < 0 || !finite(c.Gap) || c.Gap < 0 || c.Gap > 1 {
			return nil, fmt.Errorf("bad domain class %+v", c)
		}
		total += float64(c.Prompts)
	}
	if total == 0 {
		return nil, errors.New("domain classes have no prompts")
	}
	for c, cc := range classes {
		// A class without prompts can never be predicted.
		d.prior[c] = math.Log(max(float64(cc.Prompts), 1e-9) / total)
		d.base[c] = math.Log(alpha) - math.Log(float64(cc.Words)+alpha*vocabSize)
	}
	for i := range bk {
		if bk[i] >= vocabSize || int(cl[i]) >= k || ct[i] == 0 {
			return nil, fmt.Errorf("bad domain entry %d", i)
		}
		if i > 0 && (bk[i] < bk[i-1] || bk[i] == bk[i-1] && cl[i] <= cl[i-1]) {
			return nil, fmt.Errorf("domain entries not sorted at %d", i)
		}
		d.off[bk[i]+1]++
		d.val[i] = float64(float32(math.Log1p(float64(ct[i]) / alpha)))
	}
	for b := 0; b < vocabSize; b++ {
		d.off[b+1] += d.off[b]
	}
	return d, nil
}

// domainFile is the JSON layout of the classifier in a weights file. Counts
// holds the sparse counts, sorted by bucket then class, as base64 of
// unsigned varints: bucket delta, class, count per entry.
type domainFile struct {
	Alpha    float64       `json:"alpha"`
	MaxWords int           `json:"max_words"`
	Classes  []domainClass `json:"classes"`
	Entries  int           `json:"entries"`
	Counts   string        `json:"counts"`
}

func (d *domainModel) file() *domainFile {
	var buf []byte
	prev := uint32(0)
	for b := uint32(0); b < vocabSize; b++ {
		for i := d.off[b]; i < d.off[b+1]; i++ {
			buf = binary.AppendUvarint(buf, uint64(b-prev))
			buf = binary.AppendUvarint(buf, uint64(d.cls[i]))
			buf = binary.AppendUvarint(buf, uint64(d.count[i]))
			prev = b
		}
	}
	return &domainFile{Alpha: d.alpha, MaxWords: domainMaxWords, Classes: d.classes, Entries: len(d.cls),
		Counts: base64.StdEncoding.EncodeToString(buf)}
}

func domainFromFile(f *domainFile) (*domainModel, error) {
	if f.MaxWords != domainMaxWords {
		return nil, fmt.Errorf("domain max_words %d, want %d", f.MaxWords, domainMaxWords)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Counts)
	if err != nil {
		return nil, fmt.Errorf("domain counts: %w", err)
	}
	if f.Entries < 0 || f.Entries > len(raw) {
		return nil, fmt.Errorf("domain entries %d do not fit the counts", f.Entries)
	}
	bk := make([]uint32, 0, f.Entries)
	cl := make([]uint8, 0, f.Entries)
	ct := make([]uint32, 0, f.Entries)
	var b uint64
	for len(raw) > 0 {
		var v [3]uint64
		for j := range v {
			x, n := binary.Uvarint(raw)
			if n <= 0 {
				return nil, errors.New("domain counts: truncated varint")
			}
			v[j], raw = x, raw[n:]
		}
		b += v[0]
		if b >= vocabSize || v[1] > 255 || v[2] == 0 || v[2] > math.MaxUint32 {
			return nil, fmt.Errorf("domain counts: bad entry %v", v)
		}
		bk, cl, ct = append(bk, uint32(b)), append(cl, uint8(v[1])), append(ct, uint32(v[2]))
	}
	if len(bk) != f.Entries {
		return nil, fmt.Errorf("domain counts: %d entries, want %d", len(bk), f.Entries)
	}
	return newDomain(f.Alpha, f.Classes, bk, cl, ct)
}

// sortedNames returns the distinct non-empty names in first-seen order.
func sortedNames(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
