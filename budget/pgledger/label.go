package pgledger

import "context"

type labelContextKey struct{}

// ContextWithLabel returns a copy of ctx carrying label, recorded with the
// reservations made with it and their settlements in the settlements table:
// a model's name, a feature, a request ID — whatever operators want to
// group spend by besides the budget key. The empty label means none.
// A label is not a secret: do not put prompt text in it.
func ContextWithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelContextKey{}, label)
}

// LabelFromContext returns the label carried by ctx, or "".
func LabelFromContext(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	s, _ := ctx.Value(labelContextKey{}).(string)
	return s
}
