// Command baar-bench measures routing quality and cost on labelled data.
//
// # Usage
//
//	go run ./cmd/baar-bench [--data DIR] [--cross] [--cv K] [--json] [--plot curves.svg] [--scores-out scores.jsonl]
//	    [--strategy route|cascade|hybrid|all] [--verifier default,agreement,agreement-K]
//	    [--hybrid-bar 0.95] [--escalation-threshold 0.5]
//	    [--value-policy SPEC [--alpha A | --auto-calibrate-alpha [--target-reject-rate R] [--alpha-source percentile|median]]
//	     [--max-reject-rate M] [--min-gated N]]
//
// Data: --data reads RouteLLM's evaluation files (the directory
// routellm/evals of github.com/lm-sys/RouteLLM: gsm8k_responses.csv, the 57
// mmlu/mmlu_<subject>.csv, and the *_contaminated_prompts.jsonl lists, whose
// prompts are dropped; each file plain or gzip-compressed as NAME.gz).
// Without --data and --dataset it reads $BAAR_ROUTELLM_DATA, else the copy
// the module ships in testdata/routellm (found upward from the working
// directory). --dataset jsonl:PATH (repeatable) reads the generic
// format, one JSON object a line:
//
//	{"prompt": "...", "cheap_correct": true, "capable_correct": false, "cheap_output_tokens": 120, "capable_output_tokens": 200,
//	 "cheap_answer": "...", "cheap_answers": ["...", "..."], "cheap_answers_correct": [true, false]}
//
// with the token fields optional (both or neither), and the answer fields
// optional (see bench.LoadJSONL): cheap_answer is the answer cheap_correct
// labels, cheap_answers independent samples for agreement.
//
// Strategies: --strategy route (default) measures prompt-only routing, the
// rows below; cascade measures the cheap model answering every prompt and
// each --verifier's doubt escalating it (default: scoring.DefaultVerifier;
// agreement: scoring.Agreement over the data's cheap_answers, the majority's
// answer graded by cheap_answers_correct when given), the cost counting every
// cheap call (the prompt once a sample, the answer's output tokens counted
// from its text) plus every escalation, its operating point at
// --escalation-threshold (default 0.5, the Router's); hybrid sends prompts
// whose scoring.Default() score is ≥ --hybrid-bar (default 0.95) straight to
// the capable model and cascades the rest, and prints a sweep of bars, each
// against the plain cascade's accuracy at the same cost; all prints the three
// side by side. A dataset without the answers a verifier reads (RouteLLM's
// MMLU: no answer text; agreement: fewer than two cheap_answers) prints the
// strategy as not measurable, never a figure. --cv K also cross-validates
// scoring.TrainVerifier on folds of each dataset's train split (cascade,
// hybrid, all); --plot draws the cascade curves dashed beside the routing
// ones; --scores-out writes each cascade's doubts with "strategy":
// "cascade/VERIFIER". The synthetic testdata/cascade/arith.jsonl (go run
// ./internal/bench/gen) has simulated cheap answers in other answer styles.
//
// Split: --split test (default) evaluates the fixed test split, the prompts
// whose FNV-1a 32-bit hash of the UTF-8 text is 0 mod 5; train and all are
// the rest and everything. Thresholds (prompt length at a 20% share, the
// router at 10/20/30/50%) are always calibrated on the dataset's train
// split. --cross trains scoring.Train on each dataset's train split and
// reports APGR/CPT on every other dataset's test split. --cv K
// cross-validates the training pipeline (scoring.Train with baar-train's
// defaults, on all datasets) over K folds of the train split, folds chosen by
// CRC-32 of the prompt, and reports each dataset's APGR and CPT(50%) on its
// held-out folds, mean ± standard deviation: how to judge a change to the
// scorer, and its spread, without reading the test split.
//
// Strategies, per dataset: always-cheap, always-capable, random (expected,
// at a 20% share), prompt length in bytes, the Python Baar-Core 0.2.5
// keyword heuristic (restated from its description, at its native 0.80),
// scoring.Default() at its default threshold 0.80, the router (Default) at
// the train-calibrated shares, and the oracle. Columns: share of capable
// calls, accuracy, total cost, cost against always-capable, APGR, CPT(50%),
// CPT(80%) (RouteLLM's metrics, ties counted in expectation, see
// internal/bench), and the cost saving against always-capable at the
// cheapest point reaching 95% of the capable model's accuracy.
//
// Costs: list prices, by default RouteLLM's pair (Mixtral-8x7B $0.24 and
// GPT-4 $24.7 per 1M tokens, input and output); --cheap-model and
// --capable-model price from the embedded table (budget.Lookup). Input
// tokens are the prompt counted with cl100k_base (--approx-tokens: bytes/4);
// output tokens are counted from the response texts when the data has them
// (GSM8K), else assumed (--assume-output-tokens, default 5: MMLU asks for a
// letter).
//
// Output: tables on stdout (--json for a JSON document), a progress bar on
// stderr (--quiet to hide it), --plot FILE.svg for the cost–quality curves,
// --scores-out FILE for {"dataset","prompt","score"} lines of
// scoring.Default() (and of the cascades' doubts, see Strategies). The whole
// run takes a few seconds.
//
// # Value gate
//
// --value-policy SPEC gives every task a value in USD, standing in for an
// application's value function (baar.WithValueFunc), and adds to each
// dataset a table of the router rows (scoring.Default() at 0.80 and the
// router at the train-calibrated shares) gated as baar.WithValueGate gates
// them. SPEC is one of:
//
//	flat:USD         every task is worth USD
//	per-token:USD    USD per 1,000 prompt tokens: longer tasks are worth more
//	capable-gap:USD  USD × the share of the TRAIN split's tasks of the same
//	                 group (the MMLU subject; else the whole dataset) that
//	                 the cheap model got wrong and the capable model right;
//	                 a task is never valued with its own labels (a train
//	                 task leaves out the train items of its prompt), and the
//	                 test split's labels are never read
//
// A task's estimated cost on a tier is its input tokens × the input price +
// the assumed output tokens × the output price: the assumption is
// --assume-output-tokens when the data has no output counts (MMLU), else
// the mean of each model's counted output tokens on the TRAIN split (GSM8K),
// since the router cannot know an answer's length before the call. The gate
// replays the Router's rule in call order (the split's order): a task whose
// value is below its estimated cost on the routed tier × alpha is rejected,
// except that once more than --min-gated (default 20) tasks have been gated,
// a rejection that would push rejected/gated above --max-reject-rate
// (default 0.5) sends the task to the cheap model instead ("clamped"); a task
// routed to the capable model and worth less than its cost there goes to the
// cheap model ("downshifted"). --alpha sets alpha (default 0.3); with
// --auto-calibrate-alpha each row's alpha is baar.CalibrateAlpha of the
// value/cost ratios of the TRAIN split's tasks as that row routes them, for
// --target-reject-rate (default 0.1) with --alpha-source percentile
// (default) or median; the test split never enters it.
//
// Columns: alpha, the reject rate, the clamped and downshifted counts, the
// share answered by the capable model, the accuracy over all tasks (a
// rejected task counts as wrong) and its change against the same row
// ungated, the accuracy over the answered tasks, the total cost (a rejected
// task costs nothing), the cost against always-capable, and the cost change
// against the row ungated. Without --value-policy the output is unchanged.
//
// # Measured
//
// scoring.Default() on the test split (go run ./cmd/baar-bench --cross),
// APGR / CPT(50%) / CPT(80%):
//
//	MMLU  (n=2783)  0.680 / 27.7% / 56.4%   prompt length 0.606 / 34.5% / 60.0%
//	GSM8K (n=241)   0.589 / 38.2% / 74.3%   prompt length 0.551 / 41.9% / 76.8%
//	cross: trained on GSM8K → MMLU 0.550 / 41.3%; MMLU → GSM8K 0.509 / 45.2%
//
// Cross-validated (--cv 5) on the train split: MMLU 0.654 ± 0.016 /
// 26.8% ± 1.7%; GSM8K 0.533 ± 0.066 / 46.4% ± 8.5%.
//
// The issue-3 goal (APGR ≥ 0.65 and CPT(50%) ≤ 30% on both) is reached on
// MMLU, not on GSM8K. The default threshold 0.80 is a percentile of the
// mixed training traffic (mostly MMLU), so it sends most GSM8K prompts to
// the capable model; the train-calibrated router rows show the shares a
// user gets by calibrating on their own traffic.
//
// # Live runs
//
//	go run ./cmd/baar-bench --live --simulate --n 10
//	OPENAI_API_KEY=… [OPENAI_BASE_URL=…] go run ./cmd/baar-bench --live --data DIR [--only gsm8k]
//	    [--cheap-model gpt-4o-mini --capable-model gpt-4o] [--cheap-price IN,OUT --capable-price IN,OUT]
//	go run ./cmd/baar-bench --live --provider ollama --cheap-model llama3.2:3b --capable-model llama3.1:70b \
//	    --cheap-price 0,0 --capable-price 0,0 --dataset jsonl:PATH
//	    [--n 50] [--seed 1] [--budget 1] [--share 0.2] [--max-output-tokens 1024] [--timeout 2m] [--split test] [--json]
//
// --live sends --n prompts (default 50) of each dataset, sampled
// deterministically with --seed from the --split (default test) and kept in
// the data's order, to two real langchaingo models behind baar.Router, and
// prints per dataset: the share of calls the capable model answered, the
// accuracy (refused and failed calls count as wrong) and the accuracy over
// the answered calls, the answers whose number or letter could not be read,
// the ACTUAL spend (Router.Spent: settled from the providers' reported
// usage), the spend against always-capable, the calls answered by each tier,
// the calls downgraded to the cheap model for want of budget, the calls the
// budget refused, and provider errors. Three strategies run the same prompts:
// always-cheap, always-capable (a constant scorer, threshold fixed) and the
// router with scoring.Default() calibrated by baar.WithCapableShare(--share,
// the dataset's TRAIN-split prompts) under the default threshold schedule.
// Each strategy has its own Router and its own --budget (default $1) per
// dataset, so the three are comparable and one running dry does not starve
// the others: the most a run can spend is datasets × 3 × --budget. Calls are
// sequential, capped at --max-output-tokens (baar.WithMaxOutputTokens), and a
// budget running dry mid-run is reported (the refused calls are counted as
// unanswered), never an error. Three provider errors in a row before any
// answer end the run (wrong key, URL or model).
//
// Providers: --provider openai (default) calls the OpenAI-compatible endpoint
// of OPENAI_BASE_URL (default api.openai.com) with OPENAI_API_KEY; without
// the key the command fails before any network access. The models are
// --cheap-model and --capable-model (default gpt-4o-mini and gpt-4o), priced
// from the embedded table or by --cheap-price / --capable-price IN,OUT (USD
// per 1M tokens). --provider ollama calls OLLAMA_HOST (default
// http://127.0.0.1:11434); both models must be named and priced by flag (a
// local model has no list price; 0,0 is allowed, and then nothing is ever
// refused). --simulate replaces the endpoint by baar's in-process simulator
// (baartest.NewServer) speaking the OpenAI protocol: no key and no network
// are needed, a banner on stderr and in the output says the results are
// SIMULATED, and accuracy is meaningless (the simulator's answers are filler
// text, not answers); routing, budget, spend and grading are exercised.
//
// Prompts and grading: a prompt graded by number gets "Solve the problem
// step by step, then end your reply with a last line of the form: Answer:
// <number>"; a prompt graded by letter is preceded by "Answer the following
// multiple-choice question with the letter of the correct choice (A, B, C or
// D) only." (the router scores, and is calibrated on, the prompts with their
// instruction). A number answer is the first number after the last "answer"
// on its line, else after the last "####", else in the last \boxed{}, else
// the last number of the reply; numbers are normalized (thousands commas
// removed, zero decimals dropped: "$1,234.00" is 1234) and compared as
// values; digits glued to a word ("gpt-4o") are not numbers. A letter answer
// is a reply that is only a letter, else the letter after the last
// "Answer:"/"answer is", else a leading "C." or "(C)", else the first "(C)",
// "option C" or "choice C", else the first standalone capital A–D that is not
// the article "A".
//
// Gold answers: RouteLLM's files hold no gold answers. For GSM8K the gold
// number is derived from the labelled responses: GPT-4's final number where
// GPT-4 was labelled correct, else Mixtral's "#### N" number where only
// Mixtral was labelled correct. Where both were labelled correct the two
// numbers agree but for 4 prompts (RouteLLM's labels accept a few sign and
// unit slips: -15 for 15, 0.84 for 84); those 4 and the 92 prompts neither
// model got right have no trustworthy gold and are left out before
// sampling, which makes the live GSM8K sample slightly easier than the
// benchmark. RouteLLM's MMLU files hold only True/False labels (no gold
// letter, no response text), so live MMLU answers are NOT graded: spend,
// routing and the answer format are still measured. To grade MMLU, or any
// data, give --dataset jsonl:PATH with an "answer" field per line (a number
// or a letter A–D) and optionally "grade": "number", "letter" or "none";
// only "prompt" is required in a live run. --only NAMES (comma-separated)
// keeps some datasets. The offline flags (--cross, --plot, --scores-out,
// --value-policy, --assume-output-tokens, --approx-tokens) do not apply.
//
// # Exit status
//
// Every flag value (and each dataset's split) is checked before any prompt
// is scored. Exit status: 0 on success and for --help, 1 if the run fails,
// 2 on a usage error.
package main
