// Package routellm locates and opens RouteLLM's evaluation data (the
// directory routellm/evals of github.com/lm-sys/RouteLLM): the copy the
// module ships in testdata/routellm, each file gzip-compressed, or any other
// copy, compressed or not.
package routellm

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baarcore/baar/internal/cli"
)

// EnvDir is the environment variable naming another copy of the data.
const EnvDir = "BAAR_ROUTELLM_DATA"

// ShippedDir is the module's copy, relative to the module root.
const ShippedDir = "testdata/routellm"

// The files of the layout, relative to the data directory.
const (
	GSM8K             = "gsm8k_responses.csv"
	GSM8KContaminated = "gsm8k_contaminated_prompts.jsonl"
	MMLUContaminated  = "mmlu_contaminated_prompts.jsonl"
	// MMLUGlob matches the 57 per-subject MMLU files.
	MMLUGlob = "mmlu/mmlu_*.csv"
)

// gzExt is the extension of a compressed copy of a file.
const gzExt = ".gz"

// Dir returns the data directory: $BAAR_ROUTELLM_DATA when set, else the
// module's copy under the module root (see cli.ModuleRoot).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	root, err := cli.ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("RouteLLM data: %w; give --data DIR or set %s", err, EnvDir)
	}
	return filepath.Join(root, filepath.FromSlash(ShippedDir)), nil
}

// Open opens the file at path for reading; when path does not exist it opens
// path+".gz" and decompresses it. Callers name files as the source does.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	zf, zerr := os.Open(path + gzExt)
	if zerr != nil {
		return nil, err // the error names the file the caller asked for
	}
	zr, zerr := gzip.NewReader(zf)
	if zerr != nil {
		zf.Close()
		return nil, fmt.Errorf("%s: %w", path+gzExt, zerr)
	}
	return &gzipFile{Reader: zr, f: zf}, nil
}

// gzipFile is a decompressed view of an open file.
type gzipFile struct {
	*gzip.Reader
	f *os.File
}

// Close closes the decompressor and the file.
func (g *gzipFile) Close() error {
	return errors.Join(g.Reader.Close(), g.f.Close())
}

// MMLUFiles returns the paths of the MMLU subject files in dir, sorted, named
// as the source names them (without ".gz", whichever form is on disk), for
// Open. It fails when there are none.
func MMLUFiles(dir string) ([]string, error) {
	pattern := filepath.Join(dir, filepath.FromSlash(MMLUGlob))
	plain, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	packed, err := filepath.Glob(pattern + gzExt)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(plain)+len(packed))
	var files []string
	for _, p := range append(plain, packed...) {
		p = strings.TrimSuffix(p, gzExt)
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no %s files in %s", MMLUGlob, dir)
	}
	sort.Strings(files)
	return files, nil
}
