// Command baar-telemetry summarizes baar telemetry logs: the JSON-lines files
// a Router writes with baar.WithTelemetryLog or baar.WithTelemetryLogFile.
//
// # Usage
//
//	baar-telemetry [--json] [--bucket DURATION] FILE...
//
// FILE may be "-" for standard input. It prints:
//
//   - the number of calls, and the reject, downgrade and failover rates;
//   - the total spend (what the budgets recorded) and the estimated worst case;
//   - the last budget state seen (cap, spent, remaining);
//   - calls (provider attempts) and spend per model, sorted by spend;
//   - the error classes of refused calls and failed attempts;
//   - spend over time, in buckets of --bucket (default: chosen so that the
//     period fits in about 48 buckets; only non-empty buckets are listed).
//
// With --html FILE it also writes one self-contained HTML page (inline CSS
// and SVG, no script, nothing fetched): cumulative spend over time against
// the latest budget limit and the alert thresholds the records carry, spend
// by model and by tier, decisions per time bucket (unknown decisions
// included), the top ten budget keys by spend, and refusals by error class.
// Model names, keys and error classes are escaped. scripts/render-report.sh
// renders it in headless Chromium and fails on console errors.
//
// Malformed lines (a truncated last line, lines that are not records) are
// skipped and counted; they never stop the summary. With --json the summary
// is one JSON object on standard output.
//
// Exit status: 0 on success (malformed lines included) and for --help, 1 if
// a file cannot be read or no line of the input is a valid record, 2 on a
// usage error.
package main
