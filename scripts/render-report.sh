#!/usr/bin/env bash
# Renders baar-telemetry's HTML report in headless Chromium and fails on any
# console error or network request: the page must be self-contained (inline
# CSS and SVG, no script, no URL). Not part of the default CI.
#
#   scripts/render-report.sh [REPORT.html [SCREENSHOT.png]]
#
# Without REPORT.html it writes one from a small synthetic telemetry log
# (every decision, budget keys and model names with markup in them, a
# refusal, alert thresholds). Needs Go and Chromium (Debian: apt-get install
# chromium). Set CHROMIUM to the browser's path if it is not "chromium".
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM:-chromium}"
command -v "$CHROMIUM" >/dev/null || { echo "render-report: $CHROMIUM not found (apt-get install chromium)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

report="${1:-}"
if [ -z "$report" ]; then
  log="$work/calls.jsonl"
  # Forty calls over two hours: every decision, two keys, a refusal, alerts.
  for i in $(seq 0 39); do
    decisions=(cheap cheap capable downgraded failover rejected escalated cheap)
    d="${decisions[$((i % 8))]}"
    t="$(date -u -d "2026-11-25T10:00:00Z + $((i * 3)) minutes" +%Y-%m-%dT%H:%M:%SZ)"
    if [ "$d" = rejected ]; then
      echo "{\"v\":1,\"time\":\"$t\",\"decision\":\"rejected\",\"error\":\"budget_exceeded\",\"estimated_usd\":0.01,\"budget_usd\":0.05,\"budget_key\":\"team-<b>$((i % 2))</b>\",\"alert_thresholds\":[0.5,0.8]}"
    else
      echo "{\"v\":1,\"time\":\"$t\",\"decision\":\"$d\",\"cost_usd\":0.0005,\"budget_usd\":0.05,\"budget_key\":\"team-<b>$((i % 2))</b>\",\"alert_thresholds\":[0.5,0.8],\"attempts\":[{\"tier\":\"cheap\",\"model\":\"gpt-4o-mini<script>\",\"cost_usd\":0.0005}]}"
    fi
  done >"$log"
  report="$work/report.html"
  go run ./cmd/baar-telemetry --html "$report" "$log" >/dev/null
fi
[ -f "$report" ] || { echo "render-report: $report: no such file" >&2; exit 2; }
abs="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
shot="${2:-$work/report.png}"

# A fresh profile; everything that could reach the network is off.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-default-apps --disable-extensions --no-default-browser-check \
  --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
  --window-size=1280,2400 --screenshot="$shot" "file://$abs" >"$work/out.log" 2>"$work/err.log" || {
  echo "render-report: $CHROMIUM failed:" >&2; cat "$work/err.log" >&2; exit 1; }

# Console messages are logged as CONSOLE lines; resource failures, blocked
# requests and uncaught exceptions have their own words.
if grep -E 'CONSOLE|Uncaught|Failed to load resource|net::ERR_|Refused to' "$work/err.log" >"$work/problems.log"; then
  echo "render-report: the page logged errors:" >&2
  cat "$work/problems.log" >&2
  exit 1
fi
[ -s "$shot" ] || { echo "render-report: no screenshot written" >&2; exit 1; }
echo "render-report: $report rendered without console errors ($(wc -c <"$shot") bytes of PNG in $shot)"
