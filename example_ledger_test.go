package baar_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar"
	"github.com/baarcore/baar/baartest"
	"github.com/baarcore/baar/budget"
	"github.com/baarcore/baar/budget/pgledger"
	"github.com/baarcore/baar/budget/redisledger"
)

// exampleTiers are two fake models standing in for real langchaingo clients.
func exampleTiers() (cheap, capable baar.Tier) {
	return baar.Tier{Model: &baartest.Model{Name: "gpt-4o-mini"}, Name: "gpt-4o-mini", Provider: "openai"},
		baar.Tier{Model: &baartest.Model{Name: "gpt-4o"}, Name: "gpt-4o", Provider: "openai"}
}

// A budget per user besides the global one, in the Router's memory: a user
// who spent their share is refused while the others go on. For limits per
// key, windows or a store shared by processes, use WithLedger.
func ExampleWithKeyBudget() {
	// Every answer is as long as it may be: 4,096 tokens of gpt-4o-mini,
	// about $0.0025, until the Router fits the cap to what is left.
	model := &baartest.Model{Name: "gpt-4o-mini", FullOutput: true}
	cheap := baar.Tier{Model: model, Name: "gpt-4o-mini", Provider: "openai"}
	router, err := baar.New(cheap, cheap,
		baar.WithBudget(1),       // for everyone
		baar.WithKeyBudget(0.01), // for each budget key
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	alice := baar.ContextWithBudgetKey(context.Background(), "alice")
	bob := baar.ContextWithBudgetKey(context.Background(), "bob")

	calls := 0
	for ; calls < 100; calls++ {
		if _, err := router.Call(alice, "Summarize the news."); err != nil {
			fmt.Println("alice refused:", errors.Is(err, baar.ErrBudgetExceeded))
			break
		}
	}
	st, err := router.State(alice) // the budget that binds alice's calls: hers
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("alice: %d calls, %v of %v spent\n", calls, st.Spent, st.Limit)
	_, err = router.Call(bob, "Summarize the news.")
	fmt.Println("bob's call error:", err)
	// Output:
	// alice refused: true
	// alice: 5 calls, $0.0099948 of $0.01 spent
	// bob's call error: <nil>
}

// A budget in Redis, shared by every process that opens it by name: $50 in
// all and $2 per user a day. Compiled, not run: it needs a Redis server.
func ExampleWithLedger_redis() {
	if err := redisBudget(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func redisBudget(ctx context.Context) error {
	cheap, capable := exampleTiers()
	msgs := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "Summarize the news.")}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return err
	}

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ledger, err := redisledger.New(client, "prod", 50*budget.Dollar, budget.Limits{
		KeyLimit: 2 * budget.Dollar,                                    // each user, each day
		Window:   budget.Window{Period: budget.Daily, Location: paris}, // resets at midnight in Paris
	})
	if err != nil {
		return err
	}
	router, err := baar.New(cheap, capable, baar.WithLedger(ledger))
	if err != nil {
		return err
	}
	resp, err := router.GenerateContent(baar.ContextWithBudgetKey(ctx, "user-42"), msgs)
	if err != nil {
		return err // errors.Is(err, baar.ErrLedgerUnavailable): Redis is down, no provider call was made
	}
	fmt.Println(resp.Choices[0].Content)
	return nil
}

// A budget in PostgreSQL. Compiled, not run: it needs a database server.
func ExampleWithLedger_postgres() {
	if err := postgresBudget(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func postgresBudget(ctx context.Context) error {
	cheap, capable := exampleTiers()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return err
	}

	pool, err := pgxpool.New(ctx, "postgres://baar@db.internal/baar")
	if err != nil {
		return err
	}
	defer pool.Close()
	// Once per deployment (idempotent, safe from many processes at once):
	if err := pgledger.Migrate(ctx, pool, "baar"); err != nil {
		return err
	}
	ledger, err := pgledger.New(ctx, pool, "baar", "prod", 50*budget.Dollar, budget.Limits{
		KeyLimit: 2 * budget.Dollar,                                  // per user, per day
		Window:   budget.Window{Period: budget.Daily, Location: loc}, // resets at local midnight
	})
	if err != nil {
		return err
	}
	router, err := baar.New(cheap, capable, baar.WithLedger(ledger))
	if err != nil {
		return err
	}
	ctx = pgledger.ContextWithLabel(baar.ContextWithBudgetKey(ctx, "user-42"), "support-bot")
	answer, err := router.Call(ctx, "Where is my order?")
	if err != nil {
		return err
	}
	fmt.Println(answer)
	return nil
}
