// Package bench holds the offline parts of baar's routing benchmark: loading
// labelled data (RouteLLM's GSM8K and MMLU evaluation files, or the generic
// JSONL format), the fixed train/test split, token counting, and the routing
// quality metrics of RouteLLM (APGR, CPT) computed exactly, with ties taken in
// expectation.
//
// It is internal: cmd/baar-bench and cmd/baar-train are its users. Data
// sources (files today, a live evaluator later) produce []Item; the metrics
// only read Items and scores, so a new source plugs in without touching them.
package bench
