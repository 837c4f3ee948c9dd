package baar

import (
	"fmt"

	"github.com/baarcore/baar/budget"
)

// provenBytesPerToken bounds how many bytes of text one token can carry in
// every tokenizer the Router prices (the longest tokens of the BPE vocabularies
// in use are whitespace and punctuation runs well under this). Text of n bytes
// therefore proves at least ceil(n/provenBytesPerToken) tokens: a floor that
// reported usage must reach to be believed. It is deliberately loose, so that
// no honest report is ever taken for nonsense.
const provenBytesPerToken = 128

// provenTokens is the number of tokens n bytes of text prove: at least one for
// any non-empty text.
func provenTokens(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return (n + provenBytesPerToken - 1) / provenBytesPerToken
}

// outcome is what an attempt came back with, as the settlement rule sees it.
type outcome struct {
	// class is the error's class; "" when the model answered.
	class ErrorClass
	// cut reports a stream cut off at its reserved output cap.
	cut bool
	// usage is the provider's usage and usageOK whether it was reported and
	// valid; problem says why not.
	usage   budget.Usage
	usageOK bool
	problem string
	// sentBytes and receivedBytes are the text sent and received (every
	// choice, reasoning and tool-call arguments included): the floor that
	// reported usage must reach.
	sentBytes, receivedBytes int64
}

// settlement is what the ledger is told about an attempt.
type settlement struct {
	cost    budget.Amount
	source  UsageSource
	problem string // why the reported usage was not used, if it was not
}

// settle is the settlement rule of one attempt, a pure function:
//
//   - answered (or stopped by the caller's own streaming function): the
//     reported usage at the model's price, when it is reported, valid and
//     plausible (at least the tokens the text sent and received prove);
//     otherwise the reservation, never $0. Usage above the reservation is the
//     truth and is recorded as such;
//   - cut off at its output cap, panicked, or failed with an error the
//     provider may have billed: the reservation;
//   - failed with an error the provider cannot have billed: nothing.
func settle(o outcome, rates budget.Rates, reserved budget.Amount) settlement {
	if o.cut {
		return settlement{cost: reserved, source: UsageFromReservation}
	}
	switch o.class {
	case "", ClassCaller:
	default:
		if o.class.billed() {
			return settlement{cost: reserved, source: UsageFromReservation}
		}
		return settlement{source: UsageNone}
	}
	if !o.usageOK {
		return settlement{cost: reserved, source: UsageFromReservation, problem: o.problem}
	}
	if min := provenTokens(o.receivedBytes); o.usage.OutputTokens < min {
		return settlement{cost: reserved, source: UsageFromReservation,
			problem: fmt.Sprintf("%d output tokens reported for %d bytes received (at least %d tokens)", o.usage.OutputTokens, o.receivedBytes, min)}
	}
	if min := provenTokens(o.sentBytes); o.usage.InputTokens < min {
		return settlement{cost: reserved, source: UsageFromReservation,
			problem: fmt.Sprintf("%d input tokens reported for %d bytes sent (at least %d tokens)", o.usage.InputTokens, o.sentBytes, min)}
	}
	c, err := rates.Cost(o.usage)
	if err != nil {
		return settlement{cost: reserved, source: UsageFromReservation, problem: err.Error()}
	}
	return settlement{cost: c, source: UsageFromProvider}
}
