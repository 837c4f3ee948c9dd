package baar_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tmc/langchaingo/embeddings"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
)

// fixedVectors is an embeddings client that answers every text with the same
// vector. In production use a provider's client, e.g.
// openai.New(openai.WithEmbeddingModel("text-embedding-3-small")).
var fixedVectors = embeddings.EmbedderClientFunc(func(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = []float32{1, 0, 0}
	}
	return out, nil
})

// One budget for a RAG application's embeddings and chat calls: give the
// Embedder and the Router the same ledger.
func ExampleNewEmbedder() {
	ledger, err := budget.NewMemory(budget.Cent) // $0.01 for everything
	if err != nil {
		fmt.Println(err)
		return
	}
	inner, err := embeddings.NewEmbedder(fixedVectors)
	if err != nil {
		fmt.Println(err)
		return
	}
	embedder, err := baar.NewEmbedder(inner, "text-embedding-3-small", baar.WithLedger(ledger))
	if err != nil {
		fmt.Println(err)
		return
	}
	model := &baartest.Model{Name: "gpt-4o-mini"}
	router, err := baar.New(
		baar.Tier{Model: model, Name: "gpt-4o-mini"},
		baar.Tier{Model: model, Name: "gpt-4o-mini"},
		baar.WithLedger(ledger),
		baar.WithMaxOutputTokens(200),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	vecs, err := embedder.EmbedDocuments(ctx, []string{"tiktoken is great!", "hello world"})
	fmt.Println(len(vecs), "vectors, error:", err)
	afterEmbeddings, _ := ledger.State(ctx)
	// 6 + 2 tokens (counted exactly: OpenAI's embedding models use
	// cl100k_base) at $0.02 per 1M tokens.
	fmt.Println("embeddings cost:", afterEmbeddings.Spent)

	_, err = router.Call(ctx, "What is a vector database?")
	fmt.Println("chat error:", err)
	afterChat, _ := ledger.State(ctx)
	fmt.Println("the chat call is charged to the same budget:", afterChat.Spent > afterEmbeddings.Spent)
	// Output:
	// 2 vectors, error: <nil>
	// embeddings cost: $0.00000016
	// chat error: <nil>
	// the chat call is charged to the same budget: true
}

// A call the budget cannot afford is refused before any request, with the
// Router's error.
func ExampleEmbedder_EmbedDocuments() {
	requests := 0
	counting := embeddings.EmbedderClientFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		requests++
		return fixedVectors(ctx, texts)
	})
	inner, err := embeddings.NewEmbedder(counting)
	if err != nil {
		fmt.Println(err)
		return
	}
	embedder, err := baar.NewEmbedder(inner, "text-embedding-3-large", baar.WithBudget(0.000001))
	if err != nil {
		fmt.Println(err)
		return
	}
	docs := make([]string, 100)
	for i := range docs {
		docs[i] = fmt.Sprintf("Chapter %d of a long manual, which the budget cannot afford to embed.", i+1)
	}
	_, err = embedder.EmbedDocuments(context.Background(), docs)
	var be *baar.BudgetError
	fmt.Println(errors.Is(err, baar.ErrBudgetExceeded), errors.As(err, &be))
	fmt.Println(err)
	fmt.Println("requests:", requests)
	// Output:
	// true true
	// baar: budget exceeded: text-embedding-3-large needs up to $0.000208, $0.000000 of the $0.000001 budget is spent and $0.000000 reserved; raise the budget (WithBudget or the ledger's limit)
	// requests: 0
}
