package main

import (
	"cmp"
	"slices"
	"time"

	"github.com/baarcore/baar/internal/telemetrylog"
)

// Summary is what baar-telemetry reports. Amounts are USD.
type Summary struct {
	Files     int `json:"files"`
	Records   int `json:"records"`
	Malformed int `json:"malformed_lines"`

	Calls     int            `json:"calls"`
	Decisions map[string]int `json:"decisions"`
	// Policies counts the calls by routing policy ("threshold", …).
	Policies map[string]int `json:"policies"`
	// Rates are shares of all calls, in [0, 1].
	RejectRate    float64 `json:"reject_rate"`
	DowngradeRate float64 `json:"downgrade_rate"`
	FailoverRate  float64 `json:"failover_rate"`
	// Cascade is present when calls went through a cascade (WithCascade).
	Cascade *CascadeStat `json:"cascade,omitempty"`

	SpendUSD     float64             `json:"spend_usd"`
	EstimatedUSD float64             `json:"estimated_usd"`
	Tokens       telemetrylog.Tokens `json:"tokens"`

	First  time.Time   `json:"first,omitzero"`
	Last   time.Time   `json:"last,omitzero"`
	Budget *BudgetSeen `json:"budget,omitempty"`

	Models []ModelStat    `json:"models"`
	Errors map[string]int `json:"errors"`
	Bucket string         `json:"bucket"`
	Spend  []BucketStat   `json:"spend_over_time"`
	// Alerts are the budget alert thresholds the calls crossed, in time
	// order.
	Alerts []AlertSeen `json:"alerts,omitempty"`
}

// AlertSeen is a budget alert threshold crossed by a call at Time.
type AlertSeen struct {
	Time time.Time `json:"time"`
	telemetrylog.Alert
}

// CascadeStat is what the cascade did: calls that went through it, those
// escalated (the capable model answered, or the budget or the capable model
// kept the cheap answer), and the escalation rate among them.
type CascadeStat struct {
	Calls          int            `json:"calls"`
	Escalated      int            `json:"escalated"`
	EscalationRate float64        `json:"escalation_rate"`
	Verifiers      map[string]int `json:"verifiers"`
	// NotAnswered counts escalations whose capable answer did not come, by
	// why ("unaffordable", "failed").
	NotAnswered map[string]int `json:"escalations_not_answered,omitempty"`
}

// BudgetSeen is the budget state of the latest call.
type BudgetSeen struct {
	LimitUSD     float64 `json:"limit_usd"`
	SpentUSD     float64 `json:"spent_usd"`
	RemainingUSD float64 `json:"remaining_usd"`
}

// ModelStat is one model's provider attempts.
type ModelStat struct {
	Model        string  `json:"model"`
	Calls        int     `json:"calls"`
	Errors       int     `json:"errors"`
	SpendUSD     float64 `json:"spend_usd"`
	Share        float64 `json:"share"` // of the total spend
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
}

// BucketStat is the calls and spend of one time bucket.
type BucketStat struct {
	Start    time.Time `json:"start"`
	Calls    int       `json:"calls"`
	Rejected int       `json:"rejected"`
	SpendUSD float64   `json:"spend_usd"`
}

// aggregator accumulates records in any order.
type aggregator struct {
	s       Summary
	models  map[string]*ModelStat
	latest  time.Time
	records []bucketRec
	// report, when not nil, collects the HTML report (--html).
	report *htmlReport
}

type bucketRec struct {
	t        time.Time
	cost     float64
	rejected bool
}

func newAggregator() *aggregator {
	return &aggregator{
		s:      Summary{Decisions: map[string]int{}, Policies: map[string]int{}, Errors: map[string]int{}},
		models: map[string]*ModelStat{},
	}
}

func (a *aggregator) add(r telemetrylog.Record) {
	s := &a.s
	s.Calls++
	s.Decisions[r.Decision]++
	if r.Policy != "" {
		s.Policies[r.Policy]++
	}
	if r.Verifier != "" {
		a.addCascade(r)
	}
	s.SpendUSD += r.CostUSD
	s.EstimatedUSD += r.EstimatedUSD
	s.Tokens.Input += r.Tokens.Input
	s.Tokens.Output += r.Tokens.Output
	s.Tokens.CacheRead += r.Tokens.CacheRead
	s.Tokens.CacheWrite += r.Tokens.CacheWrite
	s.Tokens.Reasoning += r.Tokens.Reasoning
	if len(r.Attempts) == 0 && r.Error != "" {
		s.Errors[r.Error]++
	}
	for _, at := range r.Attempts {
		m := a.models[at.Model]
		if m == nil {
			m = &ModelStat{Model: at.Model}
			a.models[at.Model] = m
		}
		m.Calls++
		m.SpendUSD += at.CostUSD
		m.InputTokens += at.Tokens.Input
		m.OutputTokens += at.Tokens.Output
		if at.Error != "" {
			m.Errors++
			s.Errors[at.Error]++
		}
	}
	if s.First.IsZero() || r.Time.Before(s.First) {
		s.First = r.Time
	}
	if !r.Time.Before(a.latest) {
		a.latest = r.Time
		s.Budget = &BudgetSeen{LimitUSD: r.BudgetUSD, SpentUSD: r.SpentAfterUSD, RemainingUSD: r.RemainingUSD}
	}
	if r.Time.After(s.Last) {
		s.Last = r.Time
	}
	for _, al := range r.Alerts {
		s.Alerts = append(s.Alerts, AlertSeen{Time: r.Time, Alert: al})
	}
	a.records = append(a.records, bucketRec{t: r.Time, cost: r.CostUSD, rejected: r.Decision == telemetrylog.DecisionRejected})
	if a.report != nil {
		a.report.add(r)
	}
}

func (a *aggregator) addCascade(r telemetrylog.Record) {
	c := a.s.Cascade
	if c == nil {
		c = &CascadeStat{Verifiers: map[string]int{}, NotAnswered: map[string]int{}}
		a.s.Cascade = c
	}
	c.Calls++
	c.Verifiers[r.Verifier]++
	if r.Escalated {
		c.Escalated++
		if r.Escalation != "" {
			c.NotAnswered[r.Escalation]++
		}
	}
}

// bucketSizes are the automatic bucket widths, smallest first.
var bucketSizes = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour,
	6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// autoBucket is the smallest width that fits the period in at most 48
// buckets.
func autoBucket(period time.Duration) time.Duration {
	for _, b := range bucketSizes {
		if period/b < 48 {
			return b
		}
	}
	return bucketSizes[len(bucketSizes)-1]
}

// summary finishes the aggregation; bucket 0 means automatic.
func (a *aggregator) summary(bucket time.Duration) Summary {
	s := a.s
	slices.SortStableFunc(s.Alerts, func(x, y AlertSeen) int { return x.Time.Compare(y.Time) })
	if s.Calls > 0 {
		n := float64(s.Calls)
		s.RejectRate = float64(s.Decisions[telemetrylog.DecisionRejected]) / n
		s.DowngradeRate = float64(s.Decisions[telemetrylog.DecisionDowngraded]) / n
		s.FailoverRate = float64(s.Decisions[telemetrylog.DecisionFailover]) / n
	}
	if c := s.Cascade; c != nil && c.Calls > 0 {
		cc := *c
		cc.EscalationRate = float64(c.Escalated) / float64(c.Calls)
		s.Cascade = &cc
	}
	s.Models = make([]ModelStat, 0, len(a.models))
	for _, m := range a.models {
		if s.SpendUSD > 0 {
			m.Share = m.SpendUSD / s.SpendUSD
		}
		s.Models = append(s.Models, *m)
	}
	slices.SortFunc(s.Models, func(x, y ModelStat) int {
		if c := cmp.Compare(y.SpendUSD, x.SpendUSD); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Calls, x.Calls); c != 0 {
			return c
		}
		return cmp.Compare(x.Model, y.Model)
	})
	if bucket <= 0 {
		bucket = autoBucket(s.Last.Sub(s.First))
	}
	s.Bucket = bucket.String()
	byStart := map[time.Time]*BucketStat{}
	for _, r := range a.records {
		start := r.t.UTC().Truncate(bucket)
		b := byStart[start]
		if b == nil {
			b = &BucketStat{Start: start}
			byStart[start] = b
		}
		b.Calls++
		b.SpendUSD += r.cost
		if r.rejected {
			b.Rejected++
		}
	}
	s.Spend = make([]BucketStat, 0, len(byStart))
	for _, b := range byStart {
		s.Spend = append(s.Spend, *b)
	}
	slices.SortFunc(s.Spend, func(x, y BucketStat) int { return x.Start.Compare(y.Start) })
	return s
}
