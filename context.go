package baar

import (
	"context"

	"github.com/baarcore/baar/budget"
)

// conversationKey is the context key of ContextWithConversation.
type conversationKey struct{}

// ContextWithConversation returns a copy of ctx naming the conversation (an
// agent run, a chat session) a call belongs to. Once a conversation has been
// answered by the capable model, its later calls stay there (see
// WithStickyConversations), so an agent does not flip models mid-task; the
// budget may still downgrade them.
func ContextWithConversation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, conversationKey{}, id)
}

// ConversationFromContext returns the conversation id carried by ctx.
func ConversationFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(conversationKey{}).(string)
	return id, ok && id != ""
}

// ContextWithBudgetKey returns a copy of ctx carrying a budget key (a user,
// tenant or session id): calls made with it must fit that key's budget as
// well as the global one, in ledgers that have budgets per key
// (budget.Limits, e.g. budget.NewScoped, budget.OpenFile,
// redisledger.New). It is budget.ContextWithKey.
func ContextWithBudgetKey(ctx context.Context, key string) context.Context {
	return budget.ContextWithKey(ctx, key)
}

// BudgetKeyFromContext returns the budget key carried by ctx and whether it
// carries a non-empty one.
func BudgetKeyFromContext(ctx context.Context) (string, bool) {
	return budget.KeyFromContext(ctx)
}
