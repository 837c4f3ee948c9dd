package cliout

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCounts(t *testing.T) {
	assert.Equal(t, "", Counts(nil))
	assert.Equal(t, "b 3, a 1, c 1", Counts(map[string]int{"a": 1, "b": 3, "c": 1}))
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("full")
	}
	f.n--
	return len(p), nil
}

func TestWriterKeepsFirstError(t *testing.T) {
	var b bytes.Buffer
	w := &Writer{W: &b}
	w.Printf("a%d", 1)
	assert.NoError(t, w.Err)
	assert.Equal(t, "a1", b.String())

	fw := &failAfter{n: 1}
	w = &Writer{W: fw}
	w.Printf("x")
	w.Printf("y")
	assert.EqualError(t, w.Err, "full")
	w.Printf("z")
	assert.EqualError(t, w.Err, "full")
	assert.Zero(t, fw.n)
}
