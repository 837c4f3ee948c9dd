package tokens

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFamilyOf(t *testing.T) {
	tests := map[string]Family{
		"gpt-4o":                              FamilyO200k,
		"gpt-4o-mini-2024-07-18":              FamilyO200k,
		"chatgpt-4o-latest":                   FamilyO200k,
		"gpt-4.1-nano":                        FamilyO200k,
		"gpt-4.5-preview":                     FamilyO200k,
		"gpt-5":                               FamilyO200k,
		"gpt-5-mini":                          FamilyO200k,
		"gpt-oss-120b":                        FamilyO200k,
		"o1":                                  FamilyO200k,
		"o1-mini":                             FamilyO200k,
		"o3-pro":                              FamilyO200k,
		"o4-mini-2025-04-16":                  FamilyO200k,
		"openai/gpt-4o":                       FamilyO200k,
		"ft:gpt-4o-mini:acme::abc123":         FamilyO200k,
		"GPT-4O":                              FamilyO200k,
		"gpt-4":                               FamilyCL100k,
		"gpt-4-turbo-2024-04-09":              FamilyCL100k,
		"gpt-3.5-turbo":                       FamilyCL100k,
		"gpt-35-turbo":                        FamilyCL100k,
		"text-embedding-3-small":              FamilyCL100k,
		"claude-sonnet-4-5":                   FamilyAnthropic,
		"claude-3-5-haiku@20241022":           FamilyAnthropic,
		"us.anthropic.claude-opus-4-1-v1:0":   FamilyAnthropic,
		"anthropic/claude-3.5-sonnet":         FamilyAnthropic,
		"gemini-2.5-pro":                      FamilyGemini,
		"models/gemini-2.0-flash":             FamilyGemini,
		"publishers/google/models/gemini-1.5": FamilyGemini,
		"gemma3:27b":                          FamilyGemini,
		"llama3.1:8b":                         FamilyOther,
		"mistral-large-latest":                FamilyOther,
		"deepseek-chat":                       FamilyOther,
		"o":                                   FamilyOther,
		"o10":                                 FamilyOther,
		"my-azure-deployment":                 FamilyOther,
		"":                                    FamilyOther,
	}
	for model, want := range tests {
		assert.Equal(t, want, FamilyOf(model), model)
	}
	assert.Equal(t, "o200k", FamilyO200k.String())
	assert.Equal(t, "cl100k", FamilyCL100k.String())
	assert.Equal(t, "anthropic", FamilyAnthropic.String())
	assert.Equal(t, "gemini", FamilyGemini.String())
	assert.Equal(t, "other", FamilyOther.String())
	assert.Equal(t, "other", Family(200).String())
}

func TestImageRuleOf(t *testing.T) {
	tests := map[string]imageRule{
		"gpt-4o":            imageOpenAITile,
		"gpt-4o-mini":       imageOpenAIMiniTile,
		"gpt-4.1":           imageOpenAITile,
		"gpt-4.1-mini":      imageOpenAIPatch162,
		"gpt-4.1-nano":      imageOpenAIPatch246,
		"gpt-5-mini":        imageOpenAIPatch162,
		"gpt-5-nano":        imageOpenAIPatch246,
		"o4-mini":           imageOpenAIPatch172,
		"o3":                imageOpenAITile,
		"gpt-4-turbo":       imageOpenAITile,
		"gpt-oss-20b":       imageOpenAIUnknown,
		"claude-opus-4-1":   imageAnthropic,
		"gemini-2.5-flash":  imageGemini,
		"qwen2.5-vl":        imageUnknown,
		"gpt-realtime-mini": imageOpenAIPatch246,
	}
	for model, want := range tests {
		_, got := classify(model, true)
		assert.Equal(t, want, got, model)
	}
}
