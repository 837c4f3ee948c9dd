// Package pgledger is a [budget.Ledger] kept in PostgreSQL, for a budget
// shared by many processes or replicas that must survive a crash of any of
// them and of the database server: an acknowledged reservation or
// settlement is committed (synchronous_commit on) before it is answered.
//
// It is a subpackage so that only its users import pgx.
//
//	pool, err := pgxpool.New(ctx, "postgres://baar@db/baar")
//	err = pgledger.Migrate(ctx, pool, "baar")                   // once per deployment, idempotent
//	ledger, err := pgledger.New(ctx, pool, "baar", "prod", 50*budget.Dollar, budget.Limits{
//		KeyLimit: 2 * budget.Dollar,                                   // per user, per day
//		Window:   budget.Window{Period: budget.Daily, Location: loc}, // resets at local midnight
//	})
//	router, err := baar.New(cheap, capable, baar.WithLedger(ledger))
//
// Operations that arrive together share one round trip and one transaction
// (group commit): a server-side function decides each in arrival order, so
// a reservation of the global and the key's budget is all or nothing for
// every process. Reservations are leased: the reservation of a process that
// died is charged as spent when its lease expires. When the database cannot
// be reached, every operation returns an error matching
// [budget.ErrUnavailable] and the router makes no provider call.
//
// The schema is created and migrated by [Migrate] from SQL files embedded
// in the package; [New] refuses a schema at another version. Every
// settlement is recorded in the schema's settlements table unless
// [WithoutSettlements] is given; see docs/postgres.md for the operator's
// queries and the settings that make spend survive a failover.
package pgledger
