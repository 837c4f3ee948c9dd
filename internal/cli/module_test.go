package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindModuleRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("// x\nmodule "+ModulePath+"\n\ngo 1.26\n"), 0o644))
	nested := filepath.Join(root, "examples", "other")
	deep := filepath.Join(nested, "a", "b")
	require.NoError(t, os.MkdirAll(deep, 0o755))
	// A nested module is passed over.
	require.NoError(t, os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module example.com/other\n"), 0o644))

	for _, start := range []string{root, deep, filepath.Join(root, "examples")} {
		got, err := FindModuleRoot(start)
		require.NoError(t, err, start)
		assert.Equal(t, root, got, start)
	}

	quoted := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(quoted, "go.mod"), []byte(`module "`+ModulePath+`"`), 0o644))
	got, err := FindModuleRoot(quoted)
	require.NoError(t, err)
	assert.Equal(t, quoted, got)
}

func TestFindModuleRootOutside(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/other\n"), 0o644))
	_, err := FindModuleRoot(dir)
	require.ErrorIs(t, err, ErrNoModuleRoot)
	assert.Contains(t, err.Error(), dir)
}

// TestModuleRoot finds this repository from the package directory, and from
// outside any module through the tree the test binary was built from.
func TestModuleRoot(t *testing.T) {
	want, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	got, err := ModuleRoot()
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = os.Stat(filepath.Join(got, "go.mod"))
	require.NoError(t, err)

	if _, file, _, _ := runtime.Caller(0); !filepath.IsAbs(file) {
		return // built with -trimpath: no tree to fall back on
	}
	t.Chdir(t.TempDir())
	got, err = ModuleRoot()
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
