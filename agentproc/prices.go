package agentproc

import (
	"maps"
	"strings"
)

// Prices are US dollars per million tokens, by model name. A key names a model or the
// start of its name ("claude-sonnet-4" covers "claude-sonnet-4-5-20250929"); the longest
// key that starts the model's name wins, and "" is the price of a model no key names.
type Prices map[string]Price

// Price is what one million tokens of each kind cost, in US dollars.
type Price struct {
	Input      float64 `json:"input"`
	Output     float64 `json:"output"`
	CacheRead  float64 `json:"cache_read"`
	CacheWrite float64 `json:"cache_write"`
}

// The providers' list prices (per million tokens) for the models the presets' CLIs use by
// default, as published by Anthropic, OpenAI and Google in 2025–2026. They are for the
// estimate a budget is checked against while a launch runs: the CLI's own figure, where it
// gives one, replaces the estimate once it comes. A plan overrides them with
// budget: {prices: {MODEL: {input: …, output: …}}}.
var (
	anthropicPrices = Prices{
		"":                  {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75}, // an unknown model: priced as Sonnet
		"claude-sonnet":     {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
		"claude-3-7-sonnet": {Input: 3, Output: 15, CacheRead: 0.30, CacheWrite: 3.75},
		"claude-opus-4":     {Input: 15, Output: 75, CacheRead: 1.50, CacheWrite: 18.75},
		"claude-opus-4-5":   {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
		"claude-opus-4-6":   {Input: 5, Output: 25, CacheRead: 0.50, CacheWrite: 6.25},
		"claude-haiku-4":    {Input: 1, Output: 5, CacheRead: 0.10, CacheWrite: 1.25},
		"claude-3-5-haiku":  {Input: 0.80, Output: 4, CacheRead: 0.08, CacheWrite: 1},
	}
	openaiPrices = Prices{
		"":            {Input: 1.25, Output: 10, CacheRead: 0.125}, // gpt-5, codex's default family
		"gpt-5":       {Input: 1.25, Output: 10, CacheRead: 0.125},
		"gpt-5-mini":  {Input: 0.25, Output: 2, CacheRead: 0.025},
		"gpt-5-nano":  {Input: 0.05, Output: 0.40, CacheRead: 0.005},
		"gpt-4.1":     {Input: 2, Output: 8, CacheRead: 0.50},
		"o4-mini":     {Input: 1.10, Output: 4.40, CacheRead: 0.275},
		"o3":          {Input: 2, Output: 8, CacheRead: 0.50},
		"codex-mini":  {Input: 1.50, Output: 6, CacheRead: 0.375},
		"gpt-5-codex": {Input: 1.25, Output: 10, CacheRead: 0.125},
	}
	geminiPrices = Prices{
		"":                      {Input: 1.25, Output: 10, CacheRead: 0.31}, // gemini-2.5-pro, the CLI's default
		"gemini-2.5-pro":        {Input: 1.25, Output: 10, CacheRead: 0.31},
		"gemini-2.5-flash":      {Input: 0.30, Output: 2.50, CacheRead: 0.075},
		"gemini-2.5-flash-lite": {Input: 0.10, Output: 0.40, CacheRead: 0.025},
		"gemini-3-pro":          {Input: 2, Output: 12, CacheRead: 0.20},
	}
)

// presetPrices is the price table of a preset's CLI: the models it calls by default.
// opencode, pi and aider report their own cost; their table prices only what they leave out.
func presetPrices(preset string) Prices {
	switch preset {
	case "codex":
		return openaiPrices
	case "gemini":
		return geminiPrices
	}
	return anthropicPrices
}

// PricesFor is the table a preset's agent is estimated with: the preset's own, with the
// plan's prices over it (a plan key replaces the preset's of the same name).
func PricesFor(preset string, plan map[string]Price) Prices {
	out := maps.Clone(presetPrices(preset))
	maps.Copy(out, plan)
	return out
}

// of is the price of model: the longest key its name starts with, else "".
func (ps Prices) of(model string) Price {
	best, found := "", false
	for k := range ps {
		if k != "" && strings.HasPrefix(model, k) && len(k) > len(best) {
			best, found = k, true
		}
	}
	if !found {
		return ps[""]
	}
	return ps[best]
}

// estimate is what one model call cost at these prices: input tokens not read from or
// written to the cache, cache reads, cache writes, output tokens.
func (ps Prices) estimate(model string, input, cacheRead, cacheWrite, output int64) float64 {
	p := ps.of(model)
	return (float64(input)*p.Input + float64(cacheRead)*p.CacheRead + float64(cacheWrite)*p.CacheWrite + float64(output)*p.Output) / 1e6
}
