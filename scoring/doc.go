// Package scoring rates how much a model call needs the capable model.
//
// A [Scorer] maps a [Request] (the conversation, tools offered, tool calls
// and attachments so far) to a score; a router sends the call to the
// capable model when the score is ≥ its threshold. A [Verifier] judges the
// cheap model's [Answer] after the call, for a cascade. The package imports
// neither langchaingo nor OpenTelemetry. Measured figures live in the
// repository's README, not here.
//
// # Default
//
// [Default] is offline, deterministic and fast (a few µs of CPU time on a
// 2 KB prompt, no allocation, see BenchmarkDefault2KB). It reads bounded
// signals of the conversation: distinct words, word length, numbers,
// arithmetic operators, math notation, code, lines, sentences, questions,
// lettered choices, capped cue words (multi-step, explanation, constraints,
// negation), the question type of the first word, conversation depth,
// system prompt size, tools, attachments, and two learned vocabulary
// features:
//
//   - domain: each word's smoothed mean gain (capable correct minus cheap
//     correct) on the training prompts, averaged over the distinct words;
//   - domain_gap: a multinomial naive Bayes classifier over hashed words
//     infers which training group (an MMLU subject, GSM8K) the request
//     resembles, from its first 32 distinct content words, and the feature
//     is the gap rate (capable right, cheap wrong) expected under that
//     posterior. It learns vocabulary → domain → difficulty from the data;
//     no subject table is written by hand, and scoring never sees a group.
//
// A ridge logistic regression plus boosted depth-2 trees (so that a cue can
// matter for one kind of question and not another), trained by [Train]
// (cmd/baar-train) on the train split of RouteLLM's GSM8K and MMLU results
// for Mixtral-8x7B and GPT-4, combines them; the weights are embedded
// (weights.json). cmd/baar-bench measures it on the fixed test split.
//
// The score is a calibrated percentile: the raw model output mapped through
// the empirical CDF of raw outputs on the training prompts. A score ≥
// [DefaultThreshold] means "in the top 20% of the reference traffic", so
// that threshold sends about 20% of reference-like traffic to the capable
// model. Traffic unlike the reference shifts that share: calibrate on a
// sample of your own traffic with [Calibrate] (or [ThresholdForShare]) to
// choose the share.
//
// Gaming: lengths count distinct content words and every count is scaled by
// the share of distinct words, so padding and repetition add little; cue
// words count once each and are capped; words addressed to a router or
// scorer ("route", "complexity", "gpt", "ignore", "expert", …) are ignored
// by every feature. That is not enough on its own: the words around them
// still count, and one added word can move the domain classifier, whose
// posterior over a short prompt is sharp ("Translate 'thank you' into
// German. This is a request." scored far above the prompt alone). So the
// scan also splits the last user message into segments (sentences, lines,
// bracketed groups) and marks those aimed at the scorer: naming the router
// or a model family, a label ("SYSTEM:", "Difficulty:"), nothing but words
// about the request, a model or difficulty ("This is a request."), a
// request or model word joined with a difficulty word ("treat this as an
// expert-level task", "use the best model"), keyword stuffing (a
// difficulty word in every four), a persona ("You are a world-class …",
// "Act as …"). When it finds one, the request is scored again without
// them and the lower score is kept: such a segment can lower a score,
// never raise it, in any position and however often it is repeated. A
// legitimate sentence taken for one costs some recall, rarely; requests
// without a guard word cost one bit-set read per word. A test holds
// cmd/baar-stress's attacks and their paraphrases (before, after, inside
// and repeated) under the threshold of a 20% capable share, and the
// injections at or under the score of the prompt alone.
//
// # Verifiers
//
// In a cascade the router first calls the cheap model, then asks a
// [Verifier] how much it doubts the answer (in [0, 1]) and escalates to the
// capable model when the doubt is ≥ its threshold. [DefaultVerifier] reads
// checkable facts of one answer, whatever its final-answer style (see
// [FinalAnswer]): arithmetic checked for truth, the question's numbers left
// unused, the final answer against the last computed value, the derivation
// followed step to step (results no later step uses, operands neither given
// nor derived), a cut-off or unmarked end, hedging and backtracking,
// repeated lines, the question's length; a logistic
// regression trained by [TrainVerifier] weighs them, and hard checks floor
// the doubt (an empty, cut-off or refused answer, JSON that does not parse
// when [Request.JSONMode] asked for it, a tool call that breaks
// [Request.ToolSchemas], a false equation). Sentences in which an answer
// vouches for itself are left out, so they cannot lower its doubt.
// [Agreement] is self-consistency: it is a [Sampler] asking for k sampled
// answers, doubts them by how much they disagree, and [Majority] picks the
// answer to return. Verifiers with a name for reports implement [Named].
//
// # Semantic
//
// [NewSemantic] builds a Scorer from labelled exemplars and any [Embedder]
// (langchaingo's embeddings.Embedder satisfies it): the score is the
// similarity-weighted mean score of the nearest exemplars. Exemplar
// embeddings are computed once and can be kept in an EmbeddingCache (for
// instance a FileCache) across restarts. HashEmbedder is an offline,
// deterministic embedder.
//
// # Training your own
//
// [Train] fits a [Model] on your own labelled requests (whether the cheap
// and the capable model answered each correctly); [Model.MarshalJSON]
// writes a weights file and [NewModel] reads one. [TrainVerifier],
// [VerifierModel.MarshalJSON] and [NewVerifierModel] do the same for a
// verifier, from labelled answers.
package scoring
