// Package clitest checks the behaviour internal/cli gives the module's
// commands: exit statuses, help, and how usage errors are reported.
package clitest

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baarcore/baar/internal/cli"
)

// Runner is a command's run function: its main minus the exit.
type Runner func(args []string, stdout, stderr io.Writer) error

// Exit runs the command name as its main does and returns its exit status
// and what it printed.
func Exit(name string, run Runner, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Exit(name, run(args, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

// Help checks that -h and --help print the usage (naming flag) and exit 0.
func Help(t *testing.T, name string, run Runner, flag string) {
	t.Helper()
	for _, help := range []string{"-h", "--help"} {
		code, stdout, stderr := Exit(name, run, help)
		assert.Equal(t, cli.ExitOK, code, help)
		assert.Empty(t, stdout, help)
		assert.Contains(t, stderr, "usage: "+name, help)
		assert.Contains(t, stderr, "-"+flag, help)
		assert.NotContains(t, stderr, "help requested", help)
	}
}

// UsageError checks that args are a usage error: exit status 2, nothing on
// stdout, and one report on stderr with the command's prefix, containing
// want.
func UsageError(t *testing.T, name string, run Runner, want string, args ...string) {
	t.Helper()
	code, stdout, stderr := Exit(name, run, args...)
	assert.Equal(t, cli.ExitUsage, code, "%v: %s", args, stderr)
	assert.Empty(t, stdout, args)
	assert.True(t, strings.HasPrefix(stderr, name+": "), "%v: %q", args, stderr)
	assert.Contains(t, stderr, want, args)
	assert.Equal(t, 1, strings.Count(stderr, name+": "), "%v: reported once, nothing else printed: %q", args, stderr)
}
