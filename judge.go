package baar

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/baarcore/baar/scoring"
)

// DefaultJudgePrompt is the instruction of a JudgeVerifier: the question and
// the proposed answer follow it.
const DefaultJudgePrompt = "You check answers. Read the question and the proposed answer below, " +
	"work out whether the answer is correct, and reply with one number between 0 and 1 and nothing else: " +
	"the probability that the proposed answer is WRONG (0 = surely right, 1 = surely wrong)."

// Judge configures JudgeVerifier. Zero fields take the defaults.
type Judge struct {
	// OnCapable makes the capable model the judge; by default the cheap
	// model judges its own answer.
	OnCapable bool
	// Prompt is the instruction (default DefaultJudgePrompt). The judge must
	// reply with a number in [0, 1], the doubt.
	Prompt string
	// MaxTokens caps the judge's reply (default 16).
	MaxTokens int
}

// JudgeVerifier returns a cascade verifier that asks a model whether the
// cheap answer is right: one more model call per cascaded call, reserved and
// billed like any attempt (Attempt.Step StepJudge), under the same budget. A
// reply that is not a number in [0, 1] is a verifier error, so the call
// escalates. It works only as a Router's verifier (WithCascade): elsewhere
// Verify fails. Its Name is "judge".
func JudgeVerifier(j Judge) scoring.Verifier {
	if j.Prompt == "" {
		j.Prompt = DefaultJudgePrompt
	}
	if j.MaxTokens <= 0 {
		j.MaxTokens = 16
	}
	return &judgeVerifier{j: j}
}

type judgeVerifier struct{ j Judge }

// Name returns "judge".
func (*judgeVerifier) Name() string { return "judge" }

// errNoJudgeRouter is Verify's error outside a Router.
var errNoJudgeRouter = errors.New("baar: JudgeVerifier judges only inside a Router (WithCascade)")

// Verify asks the judge about the first answer.
func (v *judgeVerifier) Verify(ctx context.Context, req scoring.Request, answers []scoring.Answer) (float64, error) {
	run, ok := ctx.Value(judgeKey{}).(*judgeRun)
	if !ok {
		return 0, errNoJudgeRouter
	}
	if len(answers) == 0 {
		return 0, scoring.ErrNoAnswer
	}
	var q strings.Builder
	for _, m := range req.Messages {
		if m.Role == scoring.RoleHuman || m.Role == scoring.RoleSystem {
			q.WriteString(m.Text)
			q.WriteByte('\n')
		}
	}
	prompt := fmt.Sprintf("%s\n\nQuestion:\n%s\nProposed answer:\n%s\n", v.j.Prompt, q.String(), answers[0].Text)
	reply, err := run.ask(ctx, v.j, prompt)
	if err != nil {
		return 0, err
	}
	return parseDoubt(reply)
}

// parseDoubt reads the judge's reply: its first number, which must be in
// [0, 1].
func parseDoubt(reply string) (float64, error) {
	f := strings.FieldsFunc(reply, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	for _, s := range f {
		if s == "." {
			continue
		}
		d, err := strconv.ParseFloat(strings.Trim(s, "."), 64)
		if err != nil || d < 0 || d > 1 {
			break
		}
		return d, nil
	}
	return 0, fmt.Errorf("baar: the judge replied %q, not a number in [0, 1]", truncate(reply, 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type judgeKey struct{}

// judgeRun makes a judge's call for one cascaded call: reserved and settled
// like any attempt, recorded in the call's report.
type judgeRun struct {
	r   *Router
	rep *CallReport
}

func (j *judgeRun) ask(ctx context.Context, cfg Judge, prompt string) (string, error) {
	t := j.r.cheap
	if cfg.OnCapable {
		t = j.r.capable
	}
	in, err := j.r.newRouteInput(ctx, []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, prompt)},
		[]llms.CallOption{llms.WithMaxTokens(cfg.MaxTokens), llms.WithTemperature(0)})
	if err != nil {
		return "", err
	}
	h, err := j.r.reserve(ctx, in, t)
	if err != nil {
		return "", err
	}
	h.a.Step = StepJudge
	// The judge's attempt must not change which answer the report names.
	tier, model := j.rep.Tier, j.rep.Model
	resp, err := j.r.attempt(ctx, j.rep, in, h)
	j.rep.Tier, j.rep.Model = tier, model
	if err != nil {
		return "", err
	}
	if len(resp.Choices) == 0 || resp.Choices[0] == nil {
		return "", errors.New("baar: the judge returned no answer")
	}
	return resp.Choices[0].Content, nil
}
