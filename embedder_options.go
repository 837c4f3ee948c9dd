package baar

// unset marks the config fields whose Router default is a valid value, so
// that NewEmbedder can tell an option that set them.
const unset = -1

// newEmbedderConfig applies opts to a config whose routing fields are unset.
func newEmbedderConfig(opts []Option) *config {
	c := &config{budgetUSD: DefaultBudget, threshold: unset, escalationThreshold: unset}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// embedderOnly fails the options that do not apply to an Embedder, naming
// them. An option added for the Router must be listed here unless it
// applies to embeddings (TestEmbedderOptionsAreClassified enforces it).
func (c *config) embedderOnly() {
	const routing = "it configures the routing of chat calls"
	for _, o := range []struct {
		set          bool
		name, reason string
	}{
		{c.threshold != unset, "WithComplexityThreshold", routing},
		{c.schedule != nil, "WithThresholdSchedule", routing},
		{c.capableShare != nil, "WithCapableShare", routing},
		{c.scorer != nil, "WithScorer", routing},
		{c.policies != nil, "WithPolicy", routing},
		{c.valueGate != nil, "WithValueFunc or WithValueGate", routing},
		{c.exploration != nil, "WithExploration", routing},
		{c.sticky != (StickyConversations{}), "WithStickyConversations", routing},
		{c.cascade != nil, "WithCascade", routing},
		{c.escalationThreshold != unset, "WithEscalationThreshold", routing},
		{c.escalationShare != nil, "WithEscalationShare", routing},
		{c.cascadeBypass != 0, "WithCascadeBypass", routing},
		{c.noFailover, "WithFailover", "an Embedder has one model"},
		{c.maxOutput != 0, "WithMaxOutputTokens", "embeddings have no output tokens"},
		{c.minOutput != 0, "WithMinOutputTokens", "embeddings have no output tokens"},
		{c.callbacks != nil, "WithCallbacks", "langchaingo's callbacks have no embedding events"},
		{c.tel.captureContent, "WithContentCapture", "an Embedder never records its texts"},
		{c.alerts != nil, "WithBudgetAlerts", "an Embedder does not report budget alerts yet"},
	} {
		if o.set {
			c.fail("baar: NewEmbedder: %s does not apply to an Embedder: %s", o.name, o.reason)
		}
	}
}
