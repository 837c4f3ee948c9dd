package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ModulePath is the path go.mod declares for this module.
const ModulePath = "github.com/baarcore/baar"

// ErrNoModuleRoot reports that no directory declaring ModulePath was found.
var ErrNoModuleRoot = errors.New("not inside the " + ModulePath + " module")

// FindModuleRoot returns the nearest directory at or above dir whose go.mod
// declares ModulePath. Directories of other modules (a nested go.mod) are
// passed over.
func FindModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		if declaresModule(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%w (searched upward from %s)", ErrNoModuleRoot, abs)
		}
		d = parent
	}
}

// ModuleRoot returns the root of the module's source tree: found upward from
// the working directory, else (a binary run outside the tree) the tree it was
// built from when that is still on this machine.
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := FindModuleRoot(wd)
	if err == nil {
		return root, nil
	}
	// The file's build path is absolute unless the binary was built with
	// -trimpath.
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if r, err2 := FindModuleRoot(filepath.Dir(file)); err2 == nil {
			return r, nil
		}
	}
	return "", err
}

// declaresModule reports whether the go.mod file at path declares
// ModulePath.
func declaresModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "module" {
			continue
		}
		p := fields[1]
		if u, err := strconv.Unquote(p); err == nil {
			p = u
		}
		return p == ModulePath
	}
	return false
}
