//go:build !unix

package budget

import (
	"errors"
	"os"
)

var errNoFlock = errors.New("file locking is not supported on this system")

// flock fails: the File ledger needs flock(2).
func flock(*os.File) error { return errNoFlock }

// tryFlock fails: the File ledger needs flock(2).
func tryFlock(*os.File) (bool, error) { return false, errNoFlock }

// funlock fails: the File ledger needs flock(2).
func funlock(*os.File) error { return errNoFlock }
