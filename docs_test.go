package baar_test

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baarcore/baar/baartest"
)

// snippet is a ```go block of a Markdown file.
type snippet struct {
	file string
	line int
	code string
}

// docSnippets returns the Go blocks of README.md and docs/*.md.
func docSnippets(t *testing.T) []snippet {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	files = append(files, more...)
	var out []snippet
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var cur *snippet
		var code strings.Builder
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case cur == nil && strings.TrimSpace(line) == "```go":
				cur = &snippet{file: f, line: n + 1}
				code.Reset()
			case cur != nil && strings.TrimSpace(line) == "```":
				cur.code = code.String()
				out = append(out, *cur)
				cur = nil
			case cur != nil:
				code.WriteString(line)
				code.WriteByte('\n')
			}
		}
	}
	return out
}

// normalized is text with every line's surrounding space removed and blank
// lines dropped: indentation and wrapping of quotes do not matter.
func normalized(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// compiledSources is the normalized text of every Go test file of the
// module: a fragment quoted from one of them compiles with it.
func compiledSources(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") && path != "docs_test.go" {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b.WriteString(normalized(string(src)))
		}
		return nil
	})
	require.NoError(t, err)
	return b.String()
}

// TestDocSnippetsCompile: every Go block of the README and docs/ compiles.
// A block is either a whole program (package main), built here, or a
// fragment quoted from a test file of the module (an Example function,
// usually), which compiles with the tests.
func TestDocSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the documentation's programs")
	}
	sources := compiledSources(t)
	for _, s := range docSnippets(t) {
		if strings.HasPrefix(strings.TrimSpace(s.code), "package main") {
			t.Run(fmt.Sprintf("%s:%d", s.file, s.line), func(t *testing.T) { buildProgram(t, s) })
			continue
		}
		assert.True(t, strings.Contains(sources, normalized(s.code)),
			"%s:%d: this Go block is neither a whole program (package main) nor quoted from a test file of the module, so nothing checks that it compiles", s.file, s.line)
	}
}

func buildProgram(t *testing.T, s snippet) {
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(main, []byte(s.code), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "prog"), main).CombinedOutput()
	require.NoError(t, err, "%s:%d does not compile:\n%s", s.file, s.line, out)
}

// TestQuickStartRunsOffline runs the README's Quick Start, as a stranger
// would, against the OpenAI-compatible simulator: it must work with its
// defaults and print what it spent.
func TestQuickStartRunsOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Quick Start")
	}
	var quick *snippet
	for _, s := range docSnippets(t) {
		if s.file == "README.md" && strings.HasPrefix(strings.TrimSpace(s.code), "package main") {
			quick = &s
			break
		}
	}
	require.NotNil(t, quick, "the README's first whole program is its Quick Start")
	srv := baartest.NewServer()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(main, []byte(quick.code), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", main)
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+srv.URL(), "OPENAI_API_KEY=sk-test-offline")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the Quick Start failed:\n%s", out)
	assert.Contains(t, string(out), "spent $", "it prints what it spent:\n%s", out)
	assert.Positive(t, srv.Requests(), "it called the (simulated) provider")
}
