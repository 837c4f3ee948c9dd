package scoring

import "context"

// Role is the author of a message, in langchaingo's vocabulary: "system",
// "human", "ai", "tool", "function" or "generic".
type Role string

// Roles.
const (
	RoleSystem   Role = "system"
	RoleHuman    Role = "human"
	RoleAI       Role = "ai"
	RoleTool     Role = "tool"
	RoleFunction Role = "function"
	RoleGeneric  Role = "generic"
)

// Message is one message of a conversation, reduced to what a scorer reads.
type Message struct {
	Role Role
	// Text is the message's text parts joined by newlines; tool calls appear
	// as "name(arguments)" and tool results as their content.
	Text string
}

// Request is what a scorer sees of one model call. It carries no provider
// types: the router converts langchaingo's messages into it.
type Request struct {
	// Messages is the whole conversation, oldest first.
	Messages []Message
	// Tools names the tools and functions offered to the model.
	Tools []string
	// ToolSchemas maps an offered tool's name to the JSON schema of its
	// parameters, as JSON text; verifiers check tool calls against it.
	// Nil or missing entries: no schema known.
	ToolSchemas map[string]string
	// JSONMode reports that the caller asked for a JSON answer (JSON mode
	// or a JSON response format); verifiers doubt an answer that does not
	// parse.
	JSONMode bool
	// ToolCalls counts tool calls and tool results already in the conversation.
	ToolCalls int
	// Attachments counts images and binary parts.
	Attachments int
}

// Scorer rates how much a request needs the capable model: higher means
// harder. Scores are comparable only within one Scorer; a router compares
// them with a threshold. Implementations must be safe for concurrent use.
type Scorer interface {
	Score(ctx context.Context, req Request) (float64, error)
}

// ScorerFunc adapts a function to a Scorer.
type ScorerFunc func(ctx context.Context, req Request) (float64, error)

// Score calls f.
func (f ScorerFunc) Score(ctx context.Context, req Request) (float64, error) { return f(ctx, req) }
