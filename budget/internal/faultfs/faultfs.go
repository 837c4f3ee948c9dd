// Package faultfs is the seam through which the File ledger's journal
// writes and fsyncs can fail on purpose: a write that stops short with
// ENOSPC (a full disk), an fsync that fails or that reports success without
// making anything durable. The simulation tests of budget/sim set an
// [Injector]; in production none is set and each function is the plain
// *os.File method (one atomic load more).
package faultfs

import (
	"os"
	"sync/atomic"
)

// Injector decides the faults of the journal's I/O. Its methods are called
// before the operation; they must be safe for concurrent use.
type Injector interface {
	// Write returns how many bytes of a write of n bytes to name reach the
	// file, and the error the write then returns; (n, nil) lets it through.
	Write(name string, n int) (int, error)
	// Sync returns the error of an fsync of name; skip true reports success
	// without syncing (a lost fsync).
	Sync(name string) (skip bool, err error)
}

var injector atomic.Pointer[Injector]

// Set installs in as the injector of every File ledger of the process, and
// returns the function that removes it. Tests only.
func Set(in Injector) (restore func()) {
	injector.Store(&in)
	return func() { injector.Store(nil) }
}

// WriteAt writes b at off in f, or the part of it the injector lets through.
func WriteAt(f *os.File, b []byte, off int64) (int, error) {
	if in := injector.Load(); in != nil {
		if n, err := (*in).Write(f.Name(), len(b)); err != nil {
			w, _ := f.WriteAt(b[:max(0, min(n, len(b)))], off)
			return w, err
		}
	}
	return f.WriteAt(b, off)
}

// Write writes b to f, or the part of it the injector lets through.
func Write(f *os.File, b []byte) (int, error) {
	if in := injector.Load(); in != nil {
		if n, err := (*in).Write(f.Name(), len(b)); err != nil {
			w, _ := f.Write(b[:max(0, min(n, len(b)))])
			return w, err
		}
	}
	return f.Write(b)
}

// Sync fsyncs f, unless the injector fails or skips it.
func Sync(f *os.File) error {
	if in := injector.Load(); in != nil {
		if skip, err := (*in).Sync(f.Name()); skip || err != nil {
			return err
		}
	}
	return f.Sync()
}
