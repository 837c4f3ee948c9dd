package budget

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The helpers shared by the tests of the package.

// fakeClock is an injected clock: tests move it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openFile opens a File ledger at path, closed at the end of the test.
func openFile(t *testing.T, path string, limit Amount, p Limits) *File {
	t.Helper()
	f, err := OpenFile(path, limit, p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// saveLock saves the lock file of the journal at path (and the mark it
// holds); restore writes it back, as it was before the operations that a
// test then undoes by hand, simulating a crash in the middle of them.
func saveLock(t *testing.T, path string) (restore func()) {
	t.Helper()
	data, err := os.ReadFile(path + ".lock")
	require.NoError(t, err)
	return func() { require.NoError(t, os.WriteFile(path+".lock", data, 0o600)) }
}

// stateOf reads l's state for ctx.
func stateOf(t *testing.T, l Ledger, ctx context.Context) State {
	t.Helper()
	s, err := l.State(ctx)
	require.NoError(t, err)
	return s
}
