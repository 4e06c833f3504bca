package fakeopenai

import "fmt"

// CodexConfig is CODEX_HOME/config.toml for a fake at url: a provider of its own that
// speaks the Responses API over plain HTTP. (Codex 0.169 ignores OPENAI_BASE_URL; the
// built-in openai provider with openai_base_url tries websockets first, a GET with
// Upgrade seven times over some seconds, before it falls back to POST.) Its key comes
// from env_key. request_max_retries retries one HTTP request, stream_max_retries the
// model call. The model is pinned: codex's default (gpt-6.1-sol) and the gpt-5.6 and
// gpt-6 models get "code mode" (one JavaScript tool, exec), gpt-5.5 gets exec_command
// and apply_patch; an unknown model gets a warning item in the stream.
func CodexConfig(url, model string, requestRetries, streamRetries int) string {
	return fmt.Sprintf(`model = %q
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "fake"
base_url = %q
env_key = "OPENAI_API_KEY"
wire_api = "responses"
supports_websockets = false
request_max_retries = %d
stream_max_retries = %d

[analytics]
enabled = false
`, model, url, requestRetries, streamRetries)
}

// OpencodeConfig is an opencode.json ($XDG_CONFIG_HOME/opencode/opencode.json) that points
// opencode's openai provider at a fake at url with key: the provider speaks the Responses
// API at options.baseURL. Models come from opencode's bundled list; run it with
// OPENCODE_DISABLE_MODELS_FETCH=1 (no models.dev fetch) and OPENCODE_DISABLE_AUTOUPDATE=1.
func OpencodeConfig(url, key string) string {
	return `{"provider":{"openai":{"options":{"baseURL":"` + url + `","apiKey":"` + key + `"}}},"model":"openai/gpt-5.5","small_model":"openai/gpt-5.4-nano"}`
}
