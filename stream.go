package baar

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/llms"
)

// streamBytesPerToken is the divisor of the lower-bound token count of a
// stream: a chunk of n bytes counts as at least ceil(n/6) tokens (English
// averages about 4 bytes a token, code fewer), and every non-empty chunk as
// at least one. The Router cuts a stream whose count exceeds its output cap.
const streamBytesPerToken = 6

// streamWatch counts a streamed answer and cuts it off when it outgrows the
// output cap that was reserved. Providers call streaming functions from one
// goroutine, but the watch is safe for concurrent use anyway.
type streamWatch struct {
	limit  int64 // output tokens reserved (cap × choices)
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	text    strings.Builder
	bytes   int64
	nchunks int64
	cut     bool
	userErr error
}

// count adds a chunk and reports whether the stream is over its cap.
func (w *streamWatch) count(chunk []byte, keep bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(chunk) > 0 {
		w.nchunks++
		w.bytes += int64(len(chunk))
		if keep {
			w.text.Write(chunk)
		}
	}
	if !w.cut && max(w.nchunks, (w.bytes+streamBytesPerToken-1)/streamBytesPerToken) > w.limit {
		w.cut = true
	}
	return w.cut
}

// errStreamCut is what the wrapped streaming functions return, and the cause
// of the cancelled context, when a stream is cut. It is immutable: providers
// may still format it from their own goroutines after the call returned.
var errStreamCut = fmt.Errorf("baar: stream cut off at its reserved output cap: %w", ErrBudgetExceeded)

// wrap returns the call options with the streaming functions f and rf
// wrapped (either may be nil).
func (w *streamWatch) wrap(callOpts []llms.CallOption, f func(context.Context, []byte) error, rf func(context.Context, []byte, []byte) error) []llms.CallOption {
	if f != nil {
		callOpts = append(callOpts, llms.WithStreamingFunc(func(ctx context.Context, chunk []byte) error {
			if err := f(ctx, chunk); err != nil {
				w.mu.Lock()
				w.userErr = err
				w.mu.Unlock()
				return err
			}
			if w.count(chunk, true) {
				w.cancel(errStreamCut) // googleai and vertex swallow the error: cancel too
				return errStreamCut
			}
			return nil
		}))
	}
	if rf != nil {
		callOpts = append(callOpts, llms.WithStreamingReasoningFunc(func(ctx context.Context, reasoning, chunk []byte) error {
			if err := rf(ctx, reasoning, chunk); err != nil {
				w.mu.Lock()
				w.userErr = err
				w.mu.Unlock()
				return err
			}
			// Reasoning is billed as output; the answer chunk is counted here
			// only when no plain streaming function counts it.
			over := w.count(reasoning, false)
			if f == nil {
				over = w.count(chunk, true)
			}
			if over {
				w.cancel(errStreamCut)
				return errStreamCut
			}
			return nil
		}))
	}
	return callOpts
}

// state returns what was streamed, whether the stream was cut, and the
// caller's streaming function's error, if it failed.
func (w *streamWatch) state() (text string, cut bool, userErr error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String(), w.cut, w.userErr
}

// received is the number of bytes streamed so far, reasoning included.
func (w *streamWatch) received() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// chunks is the number of non-empty chunks that reached the caller.
func (w *streamWatch) chunks() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nchunks
}
