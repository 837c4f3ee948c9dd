// Package cliout holds the small output helpers the commands share.
package cliout

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Writer is an io.Writer that keeps the first write error and writes
// nothing after it, so that a command can print many lines and check one
// error at the end.
type Writer struct {
	W   io.Writer
	Err error
}

// Write implements io.Writer.
func (e *Writer) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	e.Err = err
	return n, err
}

// Printf formats to e.
func (e *Writer) Printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// Counts formats m as "key n, key n, …", the largest count first and keys
// in order among equal counts.
func Counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
