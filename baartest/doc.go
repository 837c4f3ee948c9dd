// Package baartest lets tests run langchaingo code, and baar, fully offline
// against something that behaves like a real provider.
//
// It offers three tools:
//
//   - [Server]: an OpenAI chat-completions simulator on 127.0.0.1 that speaks
//     exactly the protocol langchaingo's real openai client expects
//     (non-streaming JSON, SSE streaming with the final usage chunk, tool and
//     function calls, OpenAI error bodies).
//   - [Model]: a fake [github.com/tmc/langchaingo/llms.Model] with no HTTP at
//     all, cheap enough for benchmarks, that reports OpenAI-style usage.
//   - [NetCounter]: an HTTP client that counts its dials and DNS look-ups, to
//     prove that a code path (a budget refusal, say) touches no network.
//
// Point langchaingo's openai client at a server:
//
//	srv := baartest.NewServer()
//	defer srv.Close()
//	llm, err := openai.New(
//		openai.WithToken("t"),
//		openai.WithBaseURL(srv.URL()),
//		openai.WithModel("gpt-4o-mini"),
//	)
//
// and count its network activity with openai.WithHTTPClient(nc.HTTPClient()).
//
// # Answers
//
// Answers are deterministic: they depend only on the request. The default
// [Responder] ([DefaultResponder]) computes simple arithmetic in the prompt
// ("What is 7 * 8?" gets "7 * 8 = 56. The answer is 56."), else answers
// "Simulated answer from <model>: …" with a length that grows with the
// prompt; it calls the first offered tool (with the question's arithmetic
// as input) until the conversation holds a tool result, and plays
// langchaingo's ReAct agents (an Action with the first tool, then a Final
// Answer once an Observation is present). Write a [Responder] for anything
// else.
//
// # Wrong answers
//
// Its answers are right. [Mistakes] (the [Model] field, or [WithMistakes]
// per model) make a seeded share of them wrong in ways a verifier can check:
// a false result ("7 * 8 = 54"), no final answer, an answer cut off (finish
// reason "length"), a call of a tool that was not offered. Each choice of a
// request for several (llms.WithN) and each repetition of a request is a
// sample of its own, so sampled answers disagree as a real model's do:
// tests and examples can show a cascade escalating, offline. Stop
// sequences and the request's max_tokens / max_completion_tokens are always
// honoured: completion_tokens never exceeds the cap, and [WithMaxOutput]
// makes it equal the cap, the worst case a budget must have reserved.
//
// # Usage
//
// Token counts use a documented approximation ([ApproxTokens]: bytes/4
// rounded up, plus fixed per-message and per-function overheads), so tests can
// compute the expected figures. [WithCachedFraction] reports part of the
// prompt as cached; reasoning models (o1, o3, o4-mini, gpt-5…) report
// reasoning tokens ([WithReasoningRatio]). [WithUsageMode] makes the server
// misreport usage (missing, inflated, negative or absurd) to stress code that
// settles costs from reported usage. [Server.Tokens] always holds the true
// counts.
//
// # Failures, latency, streams
//
// [WithFailures] scripts failures ([Script]), draws them at random with a seed
// ([RandomFailures]), or applies them per model ([ForModel]): 429 rate-limit
// and quota errors, 500, 503, 401 and 400 with OpenAI's error body,
// connection resets, stalls that hold the request until the client gives up,
// and answers cut off halfway. [WithLatency] delays answers;
// [WithStreamChunks] sets the chunk size and pace of streams;
// [WithEndlessStream] streams until the client disconnects, and the handler
// then returns ([Server.Active] drops back to 0).
//
// # Counters and privacy
//
// [Server.Requests], [Server.RequestsFor] and [Server.Tokens] are safe under
// any concurrency. The simulator never logs request contents.
package baartest
