package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK      = 0
	exitChanged = 1 // diff: changes found; show: a model has no price
	exitUsage   = 2
	exitFile    = 3 // the price file cannot be read or is invalid
)

const usage = `usage: baar-prices diff [--skip-invalid] FILE
       baar-prices show [--file FILE] MODEL...

diff compares FILE (LiteLLM's model_prices_and_context_window.json format)
with the embedded price table; show prints the price baar bills MODEL at.
Exit status: 0 no change / all priced, 1 changes / a model without a price,
2 usage error, 3 FILE unreadable or invalid.
`

// exitError carries an exit status and the message printed for it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// run runs the command and returns its exit status; errors are printed to
// stderr with one "baar-prices: " prefix.
func run(args []string, stdout, stderr io.Writer) int {
	code, err := dispatch(args, stdout)
	if err == nil {
		return code
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	code = exitFile
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(stderr, "baar-prices:", err)
	if code == exitUsage {
		fmt.Fprint(stderr, usage)
	}
	return code
}

// dispatch runs the command args name and returns its exit status, or an
// error.
func dispatch(args []string, stdout io.Writer) (int, error) {
	if len(args) == 0 {
		return 0, usageErr("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		return 0, flag.ErrHelp
	case "diff":
		return diffCmd(rest, stdout)
	case "show":
		return showCmd(rest, stdout)
	default:
		return 0, usageErr("unknown command %q", cmd)
	}
}

// newFlags returns a flag set that reports errors instead of printing them.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("baar-prices "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args into fs, with flags before or after the operands, and
// returns the operands.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%v", err)
		}
		if fs.NArg() == 0 {
			return operands, nil
		}
		operands = append(operands, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
