// Command baar-train trains the complexity scorer that scoring.Default()
// embeds, and writes its weights file.
//
// # Usage
//
//	go run ./cmd/baar-train [--data DIR] [--out scoring/weights.json] [--verifier-out scoring/verifier_weights.json]
//
// With --verifier-out it also trains the answer verifier that
// scoring.DefaultVerifier() embeds (scoring.TrainVerifier), on the cheap
// model's answers of the train split (RouteLLM's GSM8K file has them; the
// generic format does not), and writes its weights there.
//
// It reads RouteLLM's labelled GSM8K and MMLU evaluation data (--data, the
// layout of routellm/evals in github.com/lm-sys/RouteLLM, files plain or
// gzip-compressed; the prompts listed as contaminated are dropped; without
// --data and --dataset, $BAAR_ROUTELLM_DATA, else the copy the module ships
// in testdata/routellm) and/or any number of files in the generic
// format (--dataset jsonl:PATH, one JSON object a line:
// {"prompt": "...", "cheap_correct": true, "capable_correct": false}),
// keeps the TRAIN split only (the prompts whose FNV-1a 32-bit hash is not
// 0 mod 5; the test split stays unseen for cmd/baar-bench), and fits
// scoring.Train:
//
//   - features: engineered, bounded signals of the conversation (distinct
//     words, word length, numbers, operators, math notation, code, lines,
//     sentences, questions, lettered choices, capped cue-word counts, the
//     first word's question type, conversation depth, system prompt, tools,
//     attachments) plus two learned vocabulary features: "domain", every
//     word's smoothed mean gain (capable correct minus cheap correct) over
//     the training prompts containing it, averaged over the prompt's
//     distinct words; and "domain_gap", a multinomial naive Bayes classifier
//     over hashed words trained to recognise each group (the 57 MMLU
//     subjects, taken from the file names, and the dataset name for GSM8K
//     and jsonl data; --groups, default true) whose output is the gap rate
//     expected under the predicted group. The regression sees both features
//     out-of-fold (5 folds), as it will on new traffic;
//   - model: ridge logistic regression on the label "the capable model is
//     right and the cheap one wrong" (--label gap; or cheap-wrong), every
//     prompt weighing the same (--balance weighs each dataset equally
//     instead: it measured worse on both test splits), plus 20 boosted
//     depth-2 regression trees fitted on the logistic loss from the
//     regression's out-of-fold output (--trees, --tree-depth, --tree-rate);
//   - output scale: the raw output is mapped through the empirical CDF of the
//     out-of-fold raw scores of the training prompts (a 201-point monotone
//     table in the weights file), so a score is a percentile of the reference
//     traffic and the default threshold 0.80 routes about 20% of it to the
//     capable model.
//
// Training reads the features only: the guard that scoring applies at
// scoring time (a second score without the segments of a request aimed at
// the scorer, the lower one kept; see the scoring package) changes no
// feature, so it needs no retraining and the weights do not depend on it.
//
// Training is reproducible: the same data and flags give byte-identical
// weights (fixed fold assignment by hash, no randomness, sorted output, six
// significant digits, sparse naive Bayes counts stored as integers). The
// file is compact JSON (about 620 KB). It takes a few seconds.
//
// Flags:
//
//	--data DIR          RouteLLM evaluation data directory (default: the
//	                    module's testdata/routellm)
//	--dataset jsonl:PATH  a generic labelled file (repeatable)
//	--only NAME         train on one dataset only (e.g. gsm8k, mmlu): used by
//	                    baar-bench --cross
//	--out FILE          weights file to write ("-" for stdout; default the
//	                    module's scoring/weights.json, the module found
//	                    upward from the working directory)
//	--label gap|cheap-wrong, --l2, --smoothing, --min-count, --folds,
//	--domain-smoothing, --trees, --tree-depth, --tree-rate, --balance,
//	--groups            model options (defaults as in scoring.TrainOptions)
//
// Every flag value is checked before the data is read. Exit status: 0 on
// success and for --help, 1 if training fails, 2 on a usage error.
package main
