package routellm

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	r, err := Open(path)
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	return string(b)
}

func TestOpenPlainOrCompressed(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "plain.csv"), []byte("a,b\n"))
	write(t, filepath.Join(dir, "packed.csv.gz"), gz(t, []byte("c,d\n")))
	// Both forms present: the plain file wins (an unpacked copy being edited).
	write(t, filepath.Join(dir, "both.csv"), []byte("plain\n"))
	write(t, filepath.Join(dir, "both.csv.gz"), gz(t, []byte("packed\n")))

	assert.Equal(t, "a,b\n", readAll(t, filepath.Join(dir, "plain.csv")))
	assert.Equal(t, "c,d\n", readAll(t, filepath.Join(dir, "packed.csv")))
	assert.Equal(t, "plain\n", readAll(t, filepath.Join(dir, "both.csv")))

	_, err := Open(filepath.Join(dir, "absent.csv"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "absent.csv", "the error names the file asked for")

	write(t, filepath.Join(dir, "broken.csv.gz"), []byte("this is not a gzip stream at all"))
	_, err = Open(filepath.Join(dir, "broken.csv"))
	require.ErrorIs(t, err, gzip.ErrHeader)
}

func TestMMLUFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := MMLUFiles(dir)
	require.Error(t, err)
	write(t, filepath.Join(dir, "mmlu", "mmlu_b.csv.gz"), gz(t, nil))
	write(t, filepath.Join(dir, "mmlu", "mmlu_a.csv"), nil)
	write(t, filepath.Join(dir, "mmlu", "mmlu_a.csv.gz"), gz(t, nil))
	write(t, filepath.Join(dir, "mmlu", "other.csv"), nil)
	files, err := MMLUFiles(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "mmlu", "mmlu_a.csv"), filepath.Join(dir, "mmlu", "mmlu_b.csv")}, files)
}

// TestDir finds the module's copy from the package directory, and every file
// of the layout in it; BAAR_ROUTELLM_DATA overrides it.
func TestDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	dir, err := Dir()
	require.NoError(t, err)
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "routellm"))
	require.NoError(t, err)
	assert.Equal(t, abs, dir)
	for _, name := range []string{GSM8K, GSM8KContaminated, MMLUContaminated} {
		r, err := Open(filepath.Join(dir, name))
		require.NoError(t, err, name)
		n, err := io.Copy(io.Discard, r)
		require.NoError(t, err, name)
		assert.Positive(t, n, name)
		require.NoError(t, r.Close())
	}
	files, err := MMLUFiles(dir)
	require.NoError(t, err)
	assert.Len(t, files, 57)
	for _, name := range []string{"LICENSE", "NOTICE"} {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
	}

	t.Setenv(EnvDir, "/elsewhere/routellm")
	dir, err = Dir()
	require.NoError(t, err)
	assert.Equal(t, "/elsewhere/routellm", dir)
}
