package bench

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/baarcore/baar/internal/routellm"
)

// Item is one labelled prompt: whether the cheap and the capable model
// answered it correctly, and how many output tokens each produced (0 when
// unknown).
type Item struct {
	Prompt string
	// Group names the item's subset when the source has one (the MMLU
	// subject); training may use it, scoring never sees it.
	Group               string
	CheapCorrect        bool
	CapableCorrect      bool
	CheapOutputTokens   int
	CapableOutputTokens int
	// CheapAnswer is the cheap model's answer text, when the source has it
	// (RouteLLM's GSM8K file, a JSONL cheap_answer): the answer CheapCorrect
	// labels.
	CheapAnswer string
	// CheapAnswers are independent answers of the cheap model sampled for
	// the prompt (a JSONL cheap_answers), as a self-consistency verifier
	// (scoring.Agreement) sees them; nil when the source has none.
	CheapAnswers []string
	// CheapAnswersCorrect labels each of CheapAnswers, when the source has
	// the labels; nil otherwise.
	CheapAnswersCorrect []bool
}

// Dataset is a named set of labelled prompts.
type Dataset struct {
	Name  string
	Items []Item
	// OutputTokensKnown reports whether the items carry output-token counts;
	// when false, costs use an assumed count.
	OutputTokensKnown bool
}

// Split selects part of a dataset.
type Split string

// Splits. The test split is the prompts whose FNV-1a 32-bit hash of the UTF-8
// text is 0 mod 5 (about 20%); train is the rest.
const (
	SplitTest  Split = "test"
	SplitTrain Split = "train"
	SplitAll   Split = "all"
)

// ParseSplit parses "test", "train" or "all".
func ParseSplit(s string) (Split, error) {
	switch Split(s) {
	case SplitTest, SplitTrain, SplitAll:
		return Split(s), nil
	}
	return "", fmt.Errorf("unknown split %q (want test, train or all)", s)
}

// IsTest reports whether prompt belongs to the fixed test split.
func IsTest(prompt string) bool {
	h := fnv.New32a()
	_, _ = io.WriteString(h, prompt)
	return h.Sum32()%5 == 0
}

// Select returns the items of d in split s, in their original order.
func (d Dataset) Select(s Split) Dataset {
	if s == SplitAll {
		return d
	}
	out := Dataset{Name: d.Name, OutputTokensKnown: d.OutputTokensKnown}
	for _, it := range d.Items {
		if IsTest(it.Prompt) == (s == SplitTest) {
			out.Items = append(out.Items, it)
		}
	}
	return out
}

// TokenCounter counts the tokens of a text.
type TokenCounter func(string) int

// The names of the datasets LoadRouteLLM and LoadRouteLLMLive return.
const (
	GSM8K = "gsm8k"
	MMLU  = "mmlu"
)

// DatasetNames returns the names of the datasets a command line gives, in
// the order they load: RouteLLM's GSM8K and MMLU when data is not empty, then
// each --dataset file's (see NameOf).
func DatasetNames(data string, datasets DatasetFlags) []string {
	var names []string
	if data != "" {
		names = append(names, GSM8K, MMLU)
	}
	for _, p := range datasets.Paths() {
		names = append(names, NameOf(p))
	}
	return names
}

// LoadRouteLLM reads RouteLLM's evaluation data from dir (the layout of
// routellm/evals in github.com/lm-sys/RouteLLM): gsm8k_responses.csv, the 57
// mmlu/mmlu_<subject>.csv files, and the two *_contaminated_prompts.jsonl
// files, whose prompts are dropped. Each file may be gzip-compressed (its
// name with ".gz" appended), as in the module's copy (see routellm.Dir). GSM8K output tokens are counted from the
// response texts with count (nil: an approximation, see ApproxTokens). It
// returns the datasets "gsm8k" and "mmlu".
func LoadRouteLLM(dir string, count TokenCounter) ([]Dataset, error) {
	if count == nil {
		count = ApproxTokens
	}
	gsmDrop, mmluDrop, files, err := routeLLMFiles(dir)
	if err != nil {
		return nil, err
	}
	gsm, err := readRouteLLMCSV(filepath.Join(dir, routellm.GSM8K), gsmDrop, count)
	if err != nil {
		return nil, err
	}
	var mmlu []Item
	for _, f := range files {
		items, err := readRouteLLMCSV(f, mmluDrop, nil)
		if err != nil {
			return nil, err
		}
		subject := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "mmlu_"), ".csv")
		for i := range items {
			items[i].Group = subject
		}
		mmlu = append(mmlu, items...)
	}
	return []Dataset{
		{Name: GSM8K, Items: gsm, OutputTokensKnown: true},
		{Name: MMLU, Items: mmlu},
	}, nil
}

// routeLLMFiles reads the contaminated prompts of GSM8K and MMLU in dir, and
// lists its MMLU files.
func routeLLMFiles(dir string) (gsmDrop, mmluDrop map[string]bool, mmlu []string, err error) {
	if gsmDrop, err = readContaminated(filepath.Join(dir, routellm.GSM8KContaminated)); err != nil {
		return nil, nil, nil, err
	}
	if mmluDrop, err = readContaminated(filepath.Join(dir, routellm.MMLUContaminated)); err != nil {
		return nil, nil, nil, err
	}
	if mmlu, err = routellm.MMLUFiles(dir); err != nil {
		return nil, nil, nil, err
	}
	return gsmDrop, mmluDrop, mmlu, nil
}

func readContaminated(path string) (map[string]bool, error) {
	f, err := routellm.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	drop := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec struct {
			EvalPrompt string `json:"eval_prompt"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		drop[rec.EvalPrompt] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return drop, nil
}

// RouteLLM's model columns.
const (
	colCheap   = "mistralai/Mixtral-8x7B-Instruct-v0.1"
	colCapable = "gpt-4-1106-preview"
)

func readRouteLLMCSV(path string, drop map[string]bool, count TokenCounter) ([]Item, error) {
	f, err := routellm.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	ip, ok1 := col["prompt"]
	iw, ok2 := col[colCheap]
	is, ok3 := col[colCapable]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("%s: want columns prompt, %s, %s", path, colCheap, colCapable)
	}
	iwr, hasW := col[colCheap+"_response"]
	isr, hasS := col[colCapable+"_response"]
	var items []Item
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(ip, iw, is) {
			return nil, fmt.Errorf("%s: short record %d fields", path, len(rec))
		}
		if drop[rec[ip]] {
			continue
		}
		w, err := parseBool(rec[iw])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s, err := parseBool(rec[is])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		it := Item{Prompt: rec[ip], CheapCorrect: w, CapableCorrect: s}
		if hasW && iwr < len(rec) {
			it.CheapAnswer = rec[iwr]
		}
		if count != nil && hasW && hasS && iwr < len(rec) && isr < len(rec) {
			it.CheapOutputTokens = count(rec[iwr])
			it.CapableOutputTokens = count(rec[isr])
		}
		items = append(items, it)
	}
	return items, nil
}

func parseBool(s string) (bool, error) {
	switch strings.TrimSpace(strings.ToLower(s)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// LoadJSONL reads the generic format: one JSON object a line,
//
//	{"prompt": "...", "cheap_correct": true, "capable_correct": false,
//	 "cheap_output_tokens": 120, "capable_output_tokens": 200,
//	 "cheap_answer": "...", "cheap_answers": ["...", "..."],
//	 "cheap_answers_correct": [true, false]}
//
// where all but the first three fields are optional: the token fields both
// or neither; cheap_answer is the cheap model's answer that cheap_correct
// labels (a cascade's verifier judges it); cheap_answers are independent
// answers sampled for the prompt (a self-consistency verifier compares them),
// with cheap_answers_correct, when given, labelling each (same length).
// Without cheap_answer the first of cheap_answers is the labelled answer, and
// its label in cheap_answers_correct must then equal cheap_correct. Blank
// lines are skipped. The dataset is named after the file.
func LoadJSONL(path string) (Dataset, error) {
	d, name, err := readFile(path, ReadJSONL)
	d.Name = name
	return d, err
}

// readFile reads the file at path with read, and names what it read after
// the file (its base name without extension).
func readFile[T any](path string, read func(io.Reader) (T, error)) (T, string, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, "", err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, "", fmt.Errorf("%s: %w", path, err)
	}
	return v, NameOf(path), nil
}

// NameOf is the name of the dataset read from the file at path: its base
// name without extension.
func NameOf(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// ReadJSONL reads the generic format of LoadJSONL from r.
func ReadJSONL(r io.Reader) (Dataset, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	d := Dataset{OutputTokensKnown: true}
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec struct {
			Prompt              *string  `json:"prompt"`
			CheapCorrect        *bool    `json:"cheap_correct"`
			CapableCorrect      *bool    `json:"capable_correct"`
			CheapOutputTokens   *int     `json:"cheap_output_tokens"`
			CapableOutputTokens *int     `json:"capable_output_tokens"`
			CheapAnswer         *string  `json:"cheap_answer"`
			CheapAnswers        []string `json:"cheap_answers"`
			CheapAnswersCorrect []bool   `json:"cheap_answers_correct"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return Dataset{}, fmt.Errorf("line %d: %w", line, err)
		}
		if rec.Prompt == nil || rec.CheapCorrect == nil || rec.CapableCorrect == nil {
			return Dataset{}, fmt.Errorf("line %d: prompt, cheap_correct and capable_correct are required", line)
		}
		it := Item{Prompt: *rec.Prompt, CheapCorrect: *rec.CheapCorrect, CapableCorrect: *rec.CapableCorrect}
		if (rec.CheapOutputTokens == nil) != (rec.CapableOutputTokens == nil) {
			return Dataset{}, fmt.Errorf("line %d: give both cheap_output_tokens and capable_output_tokens, or neither", line)
		}
		if rec.CheapOutputTokens != nil {
			if *rec.CheapOutputTokens < 0 || *rec.CapableOutputTokens < 0 {
				return Dataset{}, fmt.Errorf("line %d: negative token count", line)
			}
			it.CheapOutputTokens, it.CapableOutputTokens = *rec.CheapOutputTokens, *rec.CapableOutputTokens
		} else {
			d.OutputTokensKnown = false
		}
		if err := it.setAnswers(rec.CheapAnswer, rec.CheapAnswers, rec.CheapAnswersCorrect); err != nil {
			return Dataset{}, fmt.Errorf("line %d: %w", line, err)
		}
		d.Items = append(d.Items, it)
	}
	if err := sc.Err(); err != nil {
		return Dataset{}, err
	}
	if len(d.Items) == 0 {
		return Dataset{}, ErrNoData
	}
	return d, nil
}

// setAnswers sets the cheap answers of it from a JSONL record's fields.
func (it *Item) setAnswers(answer *string, answers []string, correct []bool) error {
	if correct != nil && len(correct) != len(answers) {
		return fmt.Errorf("%d cheap_answers_correct for %d cheap_answers", len(correct), len(answers))
	}
	if len(answers) > 0 {
		it.CheapAnswers, it.CheapAnswersCorrect = answers, correct
	}
	switch {
	case answer != nil:
		it.CheapAnswer = *answer
	case len(answers) > 0:
		it.CheapAnswer = answers[0]
		if correct != nil && correct[0] != it.CheapCorrect {
			return errors.New("cheap_correct labels the first of cheap_answers (there is no cheap_answer), but cheap_answers_correct[0] differs")
		}
	}
	return nil
}

// ApproxTokens approximates a token count as one token per four bytes,
// rounded up: close to cl100k on English prose.
func ApproxTokens(s string) int { return (len(s) + 3) / 4 }

// DatasetFlags is a repeatable command-line flag collecting --dataset
// jsonl:PATH values.
type DatasetFlags []string

// jsonlPrefix marks a --dataset value in the generic JSONL format.
const jsonlPrefix = "jsonl:"

// String implements flag.Value.
func (d *DatasetFlags) String() string { return strings.Join(*d, ",") }

// Set implements flag.Value: v must be jsonl:PATH.
func (d *DatasetFlags) Set(v string) error {
	if path, ok := strings.CutPrefix(v, jsonlPrefix); !ok || path == "" {
		return errors.New("want jsonl:PATH")
	}
	*d = append(*d, v)
	return nil
}

// Paths returns the PATH of each jsonl:PATH value, in order.
func (d DatasetFlags) Paths() []string {
	paths := make([]string, len(d))
	for i, v := range d {
		paths[i] = strings.TrimPrefix(v, jsonlPrefix)
	}
	return paths
}
