package baar

import (
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// Every OpenTelemetry name the Router emits is in this file, so that a rename
// in the GenAI semantic conventions (still in development) is a one-file
// change. The GenAI names follow semantic conventions v1.41.0, the last
// release with GenAI conventions in the main repository; cost and budget
// figures, for which no convention exists yet, are in the project's own
// "baar." namespace.

// schemaURL is the semantic-conventions schema of the tracer and the meter.
const schemaURL = semconv.SchemaURL

// Span names.
const (
	// spanRoute is the name of the INTERNAL span of one GenerateContent call.
	spanRoute = "baar.route"
	// opChat is gen_ai.operation.name of every provider attempt; the attempt's
	// CLIENT span is named "chat {model}".
	opChat = "chat"
	// opEmbeddings is gen_ai.operation.name of an Embedder's calls, whose
	// CLIENT span is named "embeddings {model}".
	opEmbeddings = "embeddings"
)

// GenAI semantic-convention attributes (v1.41.0), on the attempts' CLIENT spans
// and on the GenAI metrics.
const (
	keyOperationName     = semconv.GenAIOperationNameKey                 // "gen_ai.operation.name"
	keyProviderName      = semconv.GenAIProviderNameKey                  // "gen_ai.provider.name"
	keyRequestModel      = semconv.GenAIRequestModelKey                  // "gen_ai.request.model"
	keyResponseModel     = semconv.GenAIResponseModelKey                 // "gen_ai.response.model"
	keyRequestMaxTokens  = semconv.GenAIRequestMaxTokensKey              // "gen_ai.request.max_tokens"
	keyRequestStream     = semconv.GenAIRequestStreamKey                 // "gen_ai.request.stream"
	keyInputTokens       = semconv.GenAIUsageInputTokensKey              // "gen_ai.usage.input_tokens" (all input, cached included)
	keyOutputTokens      = semconv.GenAIUsageOutputTokensKey             // "gen_ai.usage.output_tokens" (reasoning included)
	keyCacheReadTokens   = semconv.GenAIUsageCacheReadInputTokensKey     // "gen_ai.usage.cache_read.input_tokens"
	keyCacheCreateTokens = semconv.GenAIUsageCacheCreationInputTokensKey // "gen_ai.usage.cache_creation.input_tokens"
	keyReasoningTokens   = semconv.GenAIUsageReasoningOutputTokensKey    // "gen_ai.usage.reasoning.output_tokens"
	keyFinishReasons     = semconv.GenAIResponseFinishReasonsKey         // "gen_ai.response.finish_reasons"
	keyTokenType         = semconv.GenAITokenTypeKey                     // "gen_ai.token.type"
	keyInputMessages     = semconv.GenAIInputMessagesKey                 // "gen_ai.input.messages" (opt-in content)
	keyOutputMessages    = semconv.GenAIOutputMessagesKey                // "gen_ai.output.messages" (opt-in content)
	keyConversationID    = semconv.GenAIConversationIDKey                // "gen_ai.conversation.id"
	keyErrorType         = semconv.ErrorTypeKey                          // "error.type"

	// keyUsageCostAlias is the de-facto attribute of an LLM call's USD cost
	// read by OpenLIT, Langfuse and Bifrost (not a semantic convention). It is
	// set on the attempts' spans only, so that tools summing it over spans
	// count every dollar once. See WithCostAlias.
	keyUsageCostAlias = attribute.Key("gen_ai.usage.cost")
)

// Values of gen_ai.token.type.
const (
	tokenTypeInput  = "input"
	tokenTypeOutput = "output"
)

// The project's own attributes. Amounts are USD (float64), as the attribute
// names say.
const (
	// On the call's INTERNAL span.
	keyDecision        = attribute.Key("baar.decision")         // cheap, capable, downgraded, rejected, failover, escalated
	keyTier            = attribute.Key("baar.tier")             // cheap or capable (last attempt's, on the call span)
	keyModel           = attribute.Key("baar.model")            // model of the last attempt
	keyPolicy          = attribute.Key("baar.policy")           // the routing policy that chose the tier
	keyPolicyReason    = attribute.Key("baar.policy.reason")    // its low-cardinality reason
	keyScore           = attribute.Key("baar.complexity.score") // absent when the scorer failed
	keyScorerFailed    = attribute.Key("baar.complexity.scorer_failed")
	keyThreshold       = attribute.Key("baar.complexity.threshold") // effective threshold
	keyBudgetLimit     = attribute.Key("baar.budget.limit_usd")
	keyBudgetName      = attribute.Key("baar.budget.name") // WithBudgetName; also on the budget gauges
	keySpentBefore     = attribute.Key("baar.budget.spent_before_usd")
	keySpentAfter      = attribute.Key("baar.budget.spent_after_usd")
	keyRemaining       = attribute.Key("baar.budget.remaining_usd")
	keyReserved        = attribute.Key("baar.budget.reserved_usd")  // worst case held (sum over attempts on the call span)
	keyEstimated       = attribute.Key("baar.cost.estimated_usd")   // worst case computed (for a budget refusal: the refused amount)
	keyCost            = attribute.Key("baar.cost.usd")             // actual, as settled in the budget
	keyDowngradeNeeded = attribute.Key("baar.downgrade.needed_usd") // the capable worst case that did not fit

	// On the call's INTERNAL span, for calls through a cascade (WithCascade).
	keyCascadeVerifier   = attribute.Key("baar.cascade.verifier")
	keyCascadeDoubt      = attribute.Key("baar.cascade.doubt") // absent when no answer was verified
	keyCascadeThreshold  = attribute.Key("baar.cascade.threshold")
	keyCascadeEscalated  = attribute.Key("baar.cascade.escalated")
	keyCascadeEscalation = attribute.Key("baar.cascade.escalation") // unaffordable, failed
	keyCascadeVerifyErr  = attribute.Key("baar.cascade.verifier_failed")

	// On the attempts' CLIENT spans (with keyTier and keyCost).
	keyUsageSource = attribute.Key("baar.usage.source") // provider, reservation, none; count (an Embedder's exact count)
	keyPriceSource = attribute.Key("baar.price.source") // where the price came from, when checked
	keyAttemptStep = attribute.Key("baar.attempt.step") // sample, judge, escalation, failover (absent for the answer)

	// On an Embedder's CLIENT span (with the GenAI and cost attributes above).
	keyEmbeddingsDimension = semconv.GenAIEmbeddingsDimensionCountKey // "gen_ai.embeddings.dimension.count"
	keyEmbeddingsInputs    = attribute.Key("baar.embeddings.inputs")  // the number of texts embedded
)

// error.type values of calls refused or failed before any provider attempt;
// provider failures use the ErrorClass of the attempt.
const (
	errTypeBudget   = string(ClassBudget) // "budget_exceeded"
	errTypeLedger   = "ledger_unavailable"
	errTypeInvalid  = string(ClassBadRequest) // "invalid_request"
	errTypeCanceled = string(ClassCanceled)
	errTypeOther    = "_OTHER" // the semantic conventions' fallback value
)

// Metric names and units.
const (
	metricTokenUsage        = "gen_ai.client.token.usage"        // Int64 histogram, {token}
	metricOperationDuration = "gen_ai.client.operation.duration" // Float64 histogram, s
	metricCost              = "baar.cost"                        // Float64 counter, USD, by model and tier
	metricDecisions         = "baar.decisions"                   // Int64 counter, {call}, by decision
	metricBudgetRemaining   = "baar.budget.remaining"            // Float64 observable gauge, USD
	metricBudgetLimit       = "baar.budget.limit"                // Float64 observable gauge, USD
	metricBudgetSpent       = "baar.budget.spent"                // Float64 observable gauge, USD

	unitToken   = "{token}"
	unitSeconds = "s"
	unitUSD     = "USD"
	unitCall    = "{call}"
)

// Bucket boundaries recommended by the GenAI semantic conventions (the SDK's
// defaults are for milliseconds).
var (
	tokenUsageBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets   = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
)

// Field names of the structured content attributes (gen_ai.input.messages and
// gen_ai.output.messages), from the conventions' JSON schemas.
const (
	fieldRole         = "role"
	fieldParts        = "parts"
	fieldType         = "type"
	fieldContent      = "content"
	fieldFinishReason = "finish_reason"
	fieldID           = "id"
	fieldName         = "name"
	fieldArguments    = "arguments"
	fieldResult       = "result"
	fieldURI          = "uri"
	fieldMimeType     = "mime_type"
	fieldModality     = "modality"

	partText         = "text"
	partToolCall     = "tool_call"
	partToolResponse = "tool_call_response"
	partURI          = "uri"
	partBlob         = "blob"
	modalityImage    = "image"
)
