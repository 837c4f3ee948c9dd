package bench

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baarcore/baar/internal/routellm"
)

// Grade says how a live answer is graded.
type Grade string

// Grades.
const (
	// GradeNumber compares the final number of the answer with the gold
	// number (GSM8K).
	GradeNumber Grade = "number"
	// GradeLetter compares the answer letter A–D with the gold letter (MMLU).
	GradeLetter Grade = "letter"
	// GradeNone: the item is sent but not graded (no gold answer known).
	GradeNone Grade = "none"
)

// LiveItem is a prompt for a live run, with its gold answer when known.
type LiveItem struct {
	Prompt string
	// Grade is how the answer is graded; Gold is the expected answer, empty
	// when unknown (the item is then ungraded, whatever its Grade).
	Grade Grade
	Gold  string
}

// Graded reports whether the item has a gold answer to grade against.
func (it LiveItem) Graded() bool { return it.Grade != GradeNone && it.Gold != "" }

// LiveSet is a dataset for a live run.
type LiveSet struct {
	Name  string
	Items []LiveItem
	// Gold says where the gold answers come from, for the report.
	Gold string
	// Dropped counts the items left out because no gold answer could be
	// derived for them; DroppedWhy says why.
	Dropped    int
	DroppedWhy string
}

// Select returns the items of s in split sp, in their original order.
func (s LiveSet) Select(sp Split) LiveSet {
	if sp == SplitAll {
		return s
	}
	out := s
	out.Items = nil
	for _, it := range s.Items {
		if IsTest(it.Prompt) == (sp == SplitTest) {
			out.Items = append(out.Items, it)
		}
	}
	return out
}

// GoldGSM8K explains how LoadRouteLLMLive derives GSM8K's gold numbers.
const GoldGSM8K = "derived: RouteLLM's GSM8K file has no gold column; the gold number is GPT-4's final number where GPT-4 was labelled correct, " +
	"else Mixtral's '#### N' (or final) number where Mixtral was labelled correct; prompts both got wrong, or both right with different numbers, are left out"

// GoldMMLU explains why RouteLLM's MMLU prompts are not graded live.
const GoldMMLU = "none: RouteLLM's MMLU files hold only True/False labels per model, no gold letter and no response text, so answers cannot be graded; " +
	"spend and routing are still measured (use --dataset jsonl:PATH with an \"answer\" field to grade MMLU)"

// LoadRouteLLMLive reads RouteLLM's evaluation data from dir (see
// LoadRouteLLM; contaminated prompts dropped) as live sets "gsm8k" and
// "mmlu". The data has no gold answers: for GSM8K they are derived from the
// labelled response texts (see GoldGSM8K), MMLU items are ungraded (see
// GoldMMLU).
func LoadRouteLLMLive(dir string) ([]LiveSet, error) {
	gsmDrop, mmluDrop, files, err := routeLLMFiles(dir)
	if err != nil {
		return nil, err
	}
	gsm, err := readGSM8KGold(filepath.Join(dir, routellm.GSM8K), gsmDrop)
	if err != nil {
		return nil, err
	}
	mmlu := LiveSet{Name: MMLU, Gold: GoldMMLU}
	for _, f := range files {
		items, err := readRouteLLMCSV(f, mmluDrop, nil)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			mmlu.Items = append(mmlu.Items, LiveItem{Prompt: it.Prompt, Grade: GradeLetter})
		}
	}
	return []LiveSet{gsm, mmlu}, nil
}

func readGSM8KGold(path string, drop map[string]bool) (LiveSet, error) {
	set := LiveSet{Name: GSM8K, Gold: GoldGSM8K}
	f, err := routellm.Open(path)
	if err != nil {
		return set, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return set, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	names := []string{"prompt", colCheap, colCapable, colCheap + "_response", colCapable + "_response"}
	idx := make([]int, len(names))
	for i, n := range names {
		j, ok := col[n]
		if !ok {
			return set, fmt.Errorf("%s: want columns %s", path, strings.Join(names, ", "))
		}
		idx[i] = j
	}
	var neither, disagree int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return set, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(idx[0], idx[1], idx[2], idx[3], idx[4]) {
			return set, fmt.Errorf("%s: short record %d fields", path, len(rec))
		}
		prompt := rec[idx[0]]
		if drop[prompt] {
			continue
		}
		w, err := parseBool(rec[idx[1]])
		if err != nil {
			return set, fmt.Errorf("%s: %w", path, err)
		}
		s, err := parseBool(rec[idx[2]])
		if err != nil {
			return set, fmt.Errorf("%s: %w", path, err)
		}
		gold, ok := GSM8KGold(rec[idx[3]], w, rec[idx[4]], s)
		if !ok {
			if w && s {
				disagree++
			} else {
				neither++
			}
			continue
		}
		set.Items = append(set.Items, LiveItem{Prompt: prompt, Grade: GradeNumber, Gold: gold})
	}
	set.Dropped = neither + disagree
	set.DroppedWhy = fmt.Sprintf("%d with no correct response to take the gold number from, %d whose two correct responses end in different numbers", neither, disagree)
	return set, nil
}

// GSM8KGold derives a GSM8K gold number from the two labelled responses of
// RouteLLM's data: the capable model's final number when it was labelled
// correct, else the cheap model's "#### N" number (its few-shot format), or
// its final number, when it was labelled correct. When both were labelled
// correct and their numbers differ (RouteLLM's labels accept some sign and
// unit slips), or neither was, there is no gold: ok is false.
func GSM8KGold(cheapResponse string, cheapCorrect bool, capableResponse string, capableCorrect bool) (gold string, ok bool) {
	var fromCheap, fromCapable string
	var okCheap, okCapable bool
	if cheapCorrect {
		fromCheap, okCheap = ParseNumber(cheapResponse)
	}
	if capableCorrect {
		fromCapable, okCapable = ParseNumber(capableResponse)
	}
	switch {
	case okCheap && okCapable:
		if !SameNumber(fromCheap, fromCapable) {
			return "", false
		}
		return fromCapable, true
	case okCapable:
		return fromCapable, true
	case okCheap:
		return fromCheap, true
	}
	return "", false
}

// LoadLiveJSONL reads a live set from the generic JSONL format of LoadJSONL,
// of which only "prompt" is required here, with two optional fields: "answer",
// the gold answer (a number, or a letter A–D), and "grade", how to grade it:
// "number", "letter" or "none". Without "grade", an answer that is a single
// letter A–D is graded as a letter and one that parses as a number as a
// number; an item without "answer" is ungraded (with "grade", the prompt
// still gets that format's instruction and its answers a format check). The set is named after the
// file.
func LoadLiveJSONL(path string) (LiveSet, error) {
	s, name, err := readFile(path, ReadLiveJSONL)
	s.Name = name
	return s, err
}

// ReadLiveJSONL reads the format of LoadLiveJSONL from r.
func ReadLiveJSONL(r io.Reader) (LiveSet, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var s LiveSet
	graded := 0
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec struct {
			Prompt *string          `json:"prompt"`
			Answer *json.RawMessage `json:"answer"`
			Grade  string           `json:"grade"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return LiveSet{}, fmt.Errorf("line %d: %w", line, err)
		}
		if rec.Prompt == nil {
			return LiveSet{}, fmt.Errorf("line %d: prompt is required", line)
		}
		it := LiveItem{Prompt: *rec.Prompt, Grade: GradeNone}
		if rec.Answer != nil {
			gold, err := answerText(*rec.Answer)
			if err != nil {
				return LiveSet{}, fmt.Errorf("line %d: answer: %w", line, err)
			}
			it.Gold = gold
		}
		switch Grade(rec.Grade) {
		case GradeNumber:
			it.Grade = GradeNumber
			if it.Gold != "" {
				n, ok := ParseNumber(it.Gold)
				if !ok {
					return LiveSet{}, fmt.Errorf("line %d: grade number, but the answer %q holds no number", line, it.Gold)
				}
				it.Gold = n
			}
		case GradeLetter:
			it.Grade = GradeLetter
			if it.Gold != "" {
				l, ok := goldLetter(it.Gold)
				if !ok {
					return LiveSet{}, fmt.Errorf("line %d: grade letter, but the answer %q is not a letter A–D", line, it.Gold)
				}
				it.Gold = l
			}
		case GradeNone:
			it.Gold = ""
		case "":
			if l, ok := goldLetter(it.Gold); ok {
				it.Grade, it.Gold = GradeLetter, l
			} else if n, ok := ParseNumber(it.Gold); ok && it.Gold != "" {
				it.Grade, it.Gold = GradeNumber, n
			} else if it.Gold != "" {
				return LiveSet{}, fmt.Errorf("line %d: the answer %q is neither a number nor a letter A–D: give \"grade\"", line, it.Gold)
			}
		default:
			return LiveSet{}, fmt.Errorf("line %d: grade %q: want number, letter or none", line, rec.Grade)
		}
		if it.Graded() {
			graded++
		}
		s.Items = append(s.Items, it)
	}
	if err := sc.Err(); err != nil {
		return LiveSet{}, err
	}
	if len(s.Items) == 0 {
		return LiveSet{}, ErrNoData
	}
	switch graded {
	case len(s.Items):
		s.Gold = "the file's \"answer\" fields"
	case 0:
		s.Gold = "none: the file has no \"answer\" fields, answers are not graded"
	default:
		s.Gold = fmt.Sprintf("the file's \"answer\" fields (%d of %d items; the rest are not graded)", graded, len(s.Items))
	}
	return s, nil
}

// answerText reads a JSON string or number as text.
func answerText(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("want a string or a number")
}

// goldLetter accepts "C", "c", "(C)" or "C." as the letter C.
func goldLetter(s string) (string, bool) {
	s = strings.Trim(strings.TrimSpace(s), "().")
	if len(s) == 1 {
		c := s[0] &^ 0x20 // upper case
		if c >= 'A' && c <= 'D' {
			return string(c), true
		}
	}
	return "", false
}

// SampleIndexes returns n distinct indexes of [0, total), drawn
// deterministically from seed (PCG) and sorted ascending; all of them when
// n ≥ total, none when n ≤ 0. The same (total, n, seed) always gives the same
// sample.
func SampleIndexes(total, n int, seed uint64) []int {
	if n <= 0 || total <= 0 {
		return nil
	}
	idx := make([]int, total)
	for i := range idx {
		idx[i] = i
	}
	if n >= total {
		return idx
	}
	rng := rand.New(rand.NewPCG(seed, 0x62616172)) // "baar"
	rng.Shuffle(total, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	idx = idx[:n]
	sort.Ints(idx)
	return idx
}

// Sample returns n items of s drawn with SampleIndexes, in their original
// order.
func (s LiveSet) Sample(n int, seed uint64) LiveSet {
	out := s
	out.Items = nil
	for _, i := range SampleIndexes(len(s.Items), n, seed) {
		out.Items = append(out.Items, s.Items[i])
	}
	return out
}
