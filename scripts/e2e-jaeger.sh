#!/usr/bin/env bash
# End-to-end check of baar's OpenTelemetry export against a real Jaeger.
#
# Builds Jaeger v1.76.0 outside the project's go.mod (cached in
# ${BAAR_CACHE:-~/.cache/baar}/jaeger; the cold build takes about 15 minutes
# and 2.2 GB of memory, a cached run seconds), starts it on loopback only, runs
# examples/agent (offline, against baar's simulator) exporting OTLP/HTTP to it,
# polls Jaeger's /api/traces and fails unless the router's spans arrive with
# their decision, cost and budget attributes and their "chat {model}" child
# spans with token and cost attributes. Not part of the default CI.
#
#   scripts/e2e-jaeger.sh
#
# Needs Go, curl and jq. Ports: OTLP/HTTP 4318, query 16686 (override with
# JAEGER_OTLP_HTTP_PORT and JAEGER_QUERY_PORT).
set -euo pipefail

JAEGER_VERSION=1.76.0
CACHE="${BAAR_CACHE:-$HOME/.cache/baar}/jaeger"
BIN="$CACHE/jaeger-v$JAEGER_VERSION"
OTLP_PORT="${JAEGER_OTLP_HTTP_PORT:-4318}"
QUERY_PORT="${JAEGER_QUERY_PORT:-16686}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

for tool in go curl jq; do
  command -v "$tool" >/dev/null || { echo "e2e-jaeger: $tool is required" >&2; exit 2; }
done

# 1. Build Jaeger once, in a scratch module that copies Jaeger's replace
#    directive (go install fails on it).
if [ ! -x "$BIN" ]; then
  echo "== building Jaeger v$JAEGER_VERSION in $CACHE (cold build: about 15 minutes)"
  mkdir -p "$CACHE/src"
  (
    cd "$CACHE/src"
    export GOWORK=off GOFLAGS=-mod=mod
    [ -f go.mod ] || go mod init jaegerbuild >/dev/null
    go mod edit -replace github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@v$JAEGER_VERSION"
    go build -o "$BIN.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
    mv "$BIN.tmp" "$BIN"
  )
fi
echo "== jaeger: $BIN"

WORK="$(mktemp -d)"
JAEGER_PID=""
cleanup() {
  if [ -n "$JAEGER_PID" ]; then kill "$JAEGER_PID" 2>/dev/null || true; wait "$JAEGER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# 2. Start it on loopback only (the default config binds the query ports on
#    all interfaces).
for port in "$OTLP_PORT" "$QUERY_PORT"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "e2e-jaeger: port $port is already in use" >&2; exit 1
  fi
done
JAEGER_LISTEN_HOST=127.0.0.1 "$BIN" \
  --set "extensions.jaeger_query.http.endpoint=127.0.0.1:$QUERY_PORT" \
  --set "extensions.jaeger_query.grpc.endpoint=127.0.0.1:16685" \
  --set "receivers.otlp.protocols.http.endpoint=127.0.0.1:$OTLP_PORT" \
  --set "receivers.otlp.protocols.grpc.endpoint=127.0.0.1:4317" \
  >"$WORK/jaeger.log" 2>&1 &
JAEGER_PID=$!
API="http://127.0.0.1:$QUERY_PORT/api"
for i in $(seq 1 100); do
  curl -sf "$API/services" >/dev/null 2>&1 && break
  if ! kill -0 "$JAEGER_PID" 2>/dev/null; then echo "e2e-jaeger: Jaeger exited:" >&2; tail -20 "$WORK/jaeger.log" >&2; exit 1; fi
  [ "$i" = 100 ] && { echo "e2e-jaeger: Jaeger not healthy after 10 s" >&2; tail -20 "$WORK/jaeger.log" >&2; exit 1; }
  sleep 0.1
done
echo "== jaeger healthy: OTLP/HTTP 127.0.0.1:$OTLP_PORT, query 127.0.0.1:$QUERY_PORT"
if command -v ss >/dev/null; then
  exposed=$(ss -ltnpH 2>/dev/null | grep "pid=$JAEGER_PID," | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)
  if [ -n "$exposed" ]; then echo "e2e-jaeger: Jaeger listens beyond loopback: $exposed" >&2; exit 1; fi
  echo "== listening on loopback only: $(ss -ltnpH 2>/dev/null | grep "pid=$JAEGER_PID," | awk '{print $4}' | sort | tr '\n' ' ')"
fi

# 3. Run the agent example offline, exporting traces (Jaeger takes no metrics).
SERVICE="baar-e2e-$$-$(date +%s)"
echo "== running examples/agent as service $SERVICE"
(
  cd "$ROOT"
  env -u OPENAI_API_KEY \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" \
    OTEL_SERVICE_NAME="$SERVICE" OTEL_METRICS_EXPORTER=none \
    go run ./examples/agent -budget 0.002 -max-calls 40
) >"$WORK/agent.log" 2>&1 || { echo "e2e-jaeger: the agent failed:" >&2; tail -20 "$WORK/agent.log" >&2; exit 1; }
tail -3 "$WORK/agent.log"
SPENT=$(sed -n 's/.*spent \$\([0-9.]*\) of.*/\1/p' "$WORK/agent.log" | tail -1)
[ -n "$SPENT" ] || { echo "e2e-jaeger: the agent did not print its spend" >&2; exit 1; }

# 4. Poll Jaeger until the traces are queryable.
TRACES="$WORK/traces.json"
for i in $(seq 1 60); do
  curl -sf "$API/traces?service=$SERVICE&limit=1000&lookback=1h" >"$TRACES" || true
  n=$(jq '[.data[]?.spans[]? | select(.operationName == "baar.route")] | length' "$TRACES" 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && break
  sleep 0.5
done

# 5. Check what arrived.
jq -e -r --argjson spent "$SPENT" '
  def tag($s; $k): ($s.tags[] | select(.key == $k) | .value);
  def has($s; $k): ([$s.tags[] | select(.key == $k)] | length > 0);
  [.data[].spans[]] as $spans
  | [$spans[] | select(.operationName == "baar.route")] as $routes
  | [$spans[] | select(.operationName | startswith("chat "))] as $chats
  | def children($r): [$chats[] | select(any(.references[]?; .refType == "CHILD_OF" and .spanID == $r.spanID))];
  ($routes | length) as $nr
  | ([$routes[] | select(tag(.; "baar.decision") != "rejected")]) as $served
  | ([$routes[] | select(tag(.; "baar.decision") == "rejected")]) as $refused
  | if $nr == 0 then error("no baar.route span arrived") else . end
  | if ($served | length) == 0 then error("no served call") else . end
  | if ($refused | length) == 0 then error("no refused call (the kill-switch)") else . end
  | ($served | map(
      . as $r | children($r) as $c
      | if ($c | length) == 0 then error("a served call has no chat span") else . end
      | if ([ "baar.cost.usd", "baar.decision", "baar.tier", "baar.policy", "baar.complexity.score", "baar.complexity.threshold",
              "baar.budget.limit_usd", "baar.budget.spent_before_usd", "baar.budget.spent_after_usd",
              "baar.budget.remaining_usd", "baar.budget.reserved_usd", "baar.cost.estimated_usd" ]
            | all(. as $k | has($r; $k))) then . else error("route span \($r.spanID) lacks a decision/cost/budget attribute") end
      | if ($c | all(has(.; "gen_ai.usage.input_tokens") and has(.; "gen_ai.usage.output_tokens")
                      and has(.; "baar.cost.usd") and has(.; "gen_ai.usage.cost")
                      and tag(.; "gen_ai.operation.name") == "chat" and tag(.; "gen_ai.provider.name") == "openai"
                      and tag(.; "span.kind") == "client"))
        then . else error("a chat span lacks a token, cost or GenAI attribute") end
      | if ((tag($r; "baar.cost.usd") - ($c | map(tag(.; "baar.cost.usd")) | add)) | fabs) < 1e-12
        then . else error("route cost != sum of its attempts") end
    )) as $_
  | ($refused | map(
      if (children(.) | length) != 0 then error("a refused call has a child span") else . end
      | if tag(.; "error.type") == "budget_exceeded" and tag(.; "otel.status_code") == "ERROR" then . else error("refused span without error status/type") end
    )) as $_
  | if (([$routes[] | tag(.; "baar.cost.usd")] | add) - $spent | fabs) < 5e-7 then . else error("route costs do not add up to the budget spend \($spent)") end
  | "traces: \(.data | length), baar.route spans: \($nr) (served \($served | length), refused \($refused | length)), chat spans: \($chats | length)",
    "total cost on route spans: $\([$routes[] | tag(.; "baar.cost.usd")] | add) (the budget recorded $\($spent))",
    "example served call:",
    ($served[0] | "  baar.route  decision=\(tag(.; "baar.decision")) policy=\(tag(.; "baar.policy")) tier=\(tag(.; "baar.tier")) score=\(tag(.; "baar.complexity.score")) threshold=\(tag(.; "baar.complexity.threshold")) cost=$\(tag(.; "baar.cost.usd")) remaining=$\(tag(.; "baar.budget.remaining_usd"))"),
    (children($served[0])[] | "    \(.operationName)  input_tokens=\(tag(.; "gen_ai.usage.input_tokens")) output_tokens=\(tag(.; "gen_ai.usage.output_tokens")) cost=$\(tag(.; "baar.cost.usd")) finish=\(tag(.; "gen_ai.response.finish_reasons"))"),
    "example refused call:",
    ($refused[0] | "  baar.route  decision=rejected error.type=\(tag(.; "error.type")) estimated=$\(tag(.; "baar.cost.estimated_usd")) children=0")
' "$TRACES" || { echo "e2e-jaeger: FAIL" >&2; exit 1; }
echo "e2e-jaeger: PASS"
