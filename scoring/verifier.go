package scoring

import (
	"context"
	"errors"
	"fmt"
)

// Answer is what a verifier sees of one answer of the cheap model: the
// router converts the provider's choice into it.
type Answer struct {
	// Text is the answer's text content.
	Text string
	// FinishReason is the provider's stop reason as reported ("stop",
	// "length", "max_tokens", "tool_calls", …); empty when unknown. A
	// reason of "length", "max_tokens" or "max_output_tokens" (any case)
	// means the answer was cut off.
	FinishReason string
	// ToolCalls are the tool calls the answer makes, in order.
	ToolCalls []ToolCall
	// OutputTokens is the number of output tokens reported for the answer
	// (0: unknown).
	OutputTokens int
}

// ToolCall is one tool call of an answer.
type ToolCall struct {
	// Name is the tool's (function's) name.
	Name string
	// Arguments is the call's arguments as JSON text.
	Arguments string
}

// Verifier rates the doubt that the cheap model's answers to req are
// correct: a number in [0, 1], higher meaning escalate to the capable model
// first. Doubts are comparable only within one Verifier; a router compares
// them with a threshold. Implementations must be safe for concurrent use.
//
// A verifier that needs several sampled answers to the same request
// implements Sampler; one that has a name for reports implements Named.
type Verifier interface {
	Verify(ctx context.Context, req Request, answers []Answer) (doubt float64, err error)
}

// VerifierFunc adapts a function to a Verifier.
type VerifierFunc func(ctx context.Context, req Request, answers []Answer) (float64, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, req Request, answers []Answer) (float64, error) {
	return f(ctx, req, answers)
}

// Named is implemented by verifiers (and scorers) that have a short, stable
// name for reports and telemetry, such as "default" or "agreement-3".
type Named interface {
	Name() string
}

// Sampler is implemented by verifiers that judge several answers sampled
// for the same request (self-consistency). Samples is how many answers the
// router should sample from the cheap model and pass to Verify; a verifier
// that does not implement Sampler wants one. When a Sampler accepts, the
// router returns the answer Majority picks.
type Sampler interface {
	Samples() int
}

// ErrNoAnswer is returned by verifiers given no answer to judge.
var ErrNoAnswer = errors.New("scoring: no answer to verify")

// AnswerCountError is returned by a Sampler given fewer answers than it
// needs.
type AnswerCountError struct {
	Want, Got int
}

func (e *AnswerCountError) Error() string {
	return fmt.Sprintf("scoring: verifier needs %d answers, got %d", e.Want, e.Got)
}

// Is reports ErrNoAnswer as a match when no answer was given.
func (e *AnswerCountError) Is(target error) bool { return target == ErrNoAnswer && e.Got == 0 }
