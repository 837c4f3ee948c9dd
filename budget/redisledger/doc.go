// Package redisledger is a [budget.Ledger] kept in Redis, for a budget
// shared by many processes or replicas: the cap holds for all of them
// together, and survives their restarts.
//
// It is a subpackage so that only its users import go-redis.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	ledger, err := redisledger.New(client, "prod", 50*budget.Dollar, budget.Limits{
//		KeyLimit: 2 * budget.Dollar,                                   // per user, per day
//		Window:   budget.Window{Period: budget.Daily, Location: loc}, // resets at local midnight
//	})
//	router, err := baar.New(cheap, capable, baar.WithLedger(ledger))
//	resp, err := router.GenerateContent(baar.ContextWithBudgetKey(ctx, "user-42"), msgs)
//
// Each operation is one Lua script over the budget's keys, which share the
// hash tag {baar:<name>} (one Redis Cluster slot). Reservations are leased:
// the reservation of a process that died is charged as spent when its lease
// expires. When Redis cannot be reached or answers garbage, every operation
// returns an error matching [budget.ErrUnavailable] and the router makes no
// provider call.
package redisledger
