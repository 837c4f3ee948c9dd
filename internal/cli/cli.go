package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Exit statuses of the commands.
const (
	ExitOK      = 0 // success, or --help
	ExitFailure = 1 // the work failed (or found what it checks for failing)
	ExitUsage   = 2 // a bad command line
)

// UsageError is a bad command line: a flag that does not parse, a value out
// of range, flags that do not go together. The command exits with ExitUsage.
type UsageError struct {
	Err error
}

// Error returns the message of the wrapped error.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with the message fmt.Sprintf(format, a...)
// (%w wraps as in fmt.Errorf).
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// AsUsage returns err as a usage error: nil, flag.ErrHelp and a
// *UsageError are returned unchanged, anything else is wrapped.
func AsUsage(err error) error {
	var ue *UsageError
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.As(err, &ue) {
		return err
	}
	return &UsageError{Err: err}
}

// NewFlagSet returns a flag set for the command name that returns its
// errors (flag.ContinueOnError) and writes its usage to stderr, headed by
// the synopsis when it is not empty.
func NewFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if synopsis != "" {
			fmt.Fprintf(fs.Output(), "usage: %s %s\n", name, synopsis)
		} else {
			fmt.Fprintf(fs.Output(), "usage: %s [flags]\n", name)
		}
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with fs and accepts no positional argument. -h and
// --help print the usage and return flag.ErrHelp; any other error is a
// *UsageError, which Parse does not print (Exit does, once).
func Parse(fs *flag.FlagSet, args []string) error {
	rest, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return Usagef("unexpected arguments %q", rest)
	}
	return nil
}

// ParseInterspersed is Parse for a command that takes positional arguments,
// which it returns: flags may come before, between and after them.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseOnce(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseOnce is fs.Parse with the flag package's own report silenced.
func parseOnce(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return flag.ErrHelp
	case err != nil:
		return &UsageError{Err: err}
	}
	return nil
}

// Exit reports err on stderr as "name: err" (with a pointer to --help for a
// usage error) and returns the exit status: ExitOK for nil and
// flag.ErrHelp, ExitUsage for a *UsageError, ExitFailure otherwise.
func Exit(name string, err error, stderr io.Writer) int {
	var ue *UsageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, name)
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
}

// Main exits the process with the status Exit gives for err.
func Main(name string, err error) {
	os.Exit(Exit(name, err, os.Stderr))
}

// First returns the first non-nil error of errs as a usage error (see
// AsUsage), or nil: the validation of a command line as one check per flag,
// in the order the flags are documented.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return AsUsage(err)
		}
	}
	return nil
}

// OutputFile checks that the file path given to the flag name can be
// created: its directory exists. "" (not given) and "-" (standard output)
// pass.
func OutputFile(name, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return Usagef("--%s %s: %w", name, path, err)
	case !st.IsDir():
		return Usagef("--%s %s: %s is not a directory", name, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return Usagef("--%s %s: is a directory", name, path)
	}
	return nil
}

// number is what the range checks accept: integers, floats and durations.
type number interface {
	~int | ~int64 | ~uint64 | ~float64
}

// AtLeast checks that the value v of the flag name is ≥ lo (NaN is not).
func AtLeast[T number](name string, v, lo T) error {
	if !(v >= lo) {
		return Usagef("--%s %v: want ≥ %v", name, v, lo)
	}
	return nil
}

// Positive checks that the value v of the flag name is > 0 (NaN is not).
func Positive[T number](name string, v T) error {
	var zero T
	if !(v > zero) {
		return Usagef("--%s %v: want > 0", name, v)
	}
	return nil
}

// Between checks that the value v of the flag name is in [lo, hi] (NaN is
// not).
func Between[T number](name string, v, lo, hi T) error {
	if !(v >= lo && v <= hi) {
		return Usagef("--%s %v: want a number in [%v, %v]", name, v, lo, hi)
	}
	return nil
}

// Finite checks that the value v of the flag name is neither NaN nor
// infinite.
func Finite(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Usagef("--%s %v: want a finite number", name, v)
	}
	return nil
}

// OneOf checks that the value v of the flag name is one of allowed.
func OneOf(name, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return Usagef("--%s %q: want %s", name, v, strings.Join(allowed, ", "))
}
