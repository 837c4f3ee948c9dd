package main

import (
	"fmt"
	"time"
)

// Results.
const (
	pass = "PASS"
	fail = "FAIL"
)

// result is one row of the table.
type result struct {
	Check   string  `json:"check"`
	Tried   string  `json:"tried"`
	Result  string  `json:"result"`
	Spent   float64 `json:"spent_usd"`
	Cap     float64 `json:"cap_usd"`
	NoSpend bool    `json:"no_spend,omitempty"` // no router spent anything that matters (e.g. New must fail)
	Detail  string  `json:"detail"`
	// Failures are the failed conditions (empty for a PASS); Detail holds
	// them, then the observations.
	Failures []string `json:"failures,omitempty"`
	Seconds  float64  `json:"seconds"`
}

func (r result) spendCell() string {
	if r.NoSpend {
		return "-"
	}
	return fmt.Sprintf("$%.6f / $%.6f", r.Spent, r.Cap)
}

func (r result) duration() time.Duration { return time.Duration(r.Seconds * float64(time.Second)) }

// usd formats v in dollars to the micro-dollar.
func usd(v float64) string { return fmt.Sprintf("$%.6f", v) }
