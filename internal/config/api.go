package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// API is the configuration of kubently-api.
type API struct {
	Listen  string `json:"listen" env:"KUBENTLY_LISTEN" default:":8080" doc:"Address the API listens on"`
	DataDir string `json:"dataDir" env:"KUBENTLY_DATA_DIR" default:"./data" doc:"Directory of the embedded store (used when no Redis URL is set)"`

	RedisURL       string `json:"redisURL" env:"REDIS_URL" doc:"Redis or Valkey URL (redis:// or rediss:// for TLS); moves all shared state to Redis so several replicas can serve together"`
	RedisPassword  string `json:"redisPassword" env:"REDIS_PASSWORD" doc:"Redis password when not in the URL (never logged)"`
	RedisKeyPrefix string `json:"redisKeyPrefix" env:"REDIS_KEY_PREFIX" default:"kubently:" doc:"Prefix of every Redis key, to share one Redis between installations"`
	RedisTLSCA     string `json:"redisTLSCAFile" env:"REDIS_TLS_CA_FILE" doc:"CA bundle to verify a rediss:// server"`
	RedisTLSSkip   bool   `json:"redisTLSInsecureSkipVerify" env:"REDIS_TLS_INSECURE_SKIP_VERIFY" default:"false" doc:"Skip verification of the Redis server certificate (testing only)"`

	APIKeys     []string `json:"apiKeys" env:"API_KEYS" doc:"Client API keys: entries identity:key[:role[:cluster1|cluster2]] separated by commas or newlines; role user (default) or admin; the optional cluster list limits the principal to those clusters"`
	APIKeysFile string   `json:"apiKeysFile" env:"API_KEYS_FILE" doc:"File with more API key entries, one per line"`

	ExecutorTokens     []string `json:"executorTokens" env:"EXECUTOR_TOKENS" doc:"Static executor tokens (for Helm installs): entries cluster_id:token separated by commas or newlines"`
	ExecutorTokensFile string   `json:"executorTokensFile" env:"EXECUTOR_TOKENS_FILE" doc:"File with more cluster_id:token entries"`

	OIDCIssuer        string   `json:"oidcIssuer" env:"OIDC_ISSUER" doc:"OIDC issuer URL; enables Authorization: Bearer <jwt> for people"`
	OIDCAudience      string   `json:"oidcAudience" env:"OIDC_AUDIENCE" doc:"Required audience (client id) of OIDC tokens"`
	OIDCGroupsClaim   string   `json:"oidcGroupsClaim" env:"OIDC_GROUPS_CLAIM" default:"groups" doc:"Claim holding the user's groups"`
	OIDCAdminGroups   []string `json:"oidcAdminGroups" env:"OIDC_ADMIN_GROUPS" doc:"Groups whose members get the admin role"`
	OIDCClusterGroups []string `json:"oidcClusterGroups" env:"OIDC_CLUSTER_GROUPS" doc:"Entries group=cluster1|cluster2: members of a listed group are limited to those clusters (union over their groups); members of no listed group see all clusters"`

	SessionTTL       time.Duration `json:"sessionTTL" env:"SESSION_TTL" default:"1h" doc:"Default session lifetime; slides forward with each command"`
	SessionIdleAfter time.Duration `json:"sessionIdleAfter" env:"SESSION_IDLE_AFTER" default:"5m" doc:"A session with no command for this long reports status idle"`
	SessionRetention time.Duration `json:"sessionRetention" env:"SESSION_RETENTION" default:"24h" doc:"How long closed or expired sessions stay readable"`
	ResultRetention  time.Duration `json:"resultRetention" env:"RESULT_RETENTION" default:"1h" doc:"How long command results stay readable"`
	AuditRetention   time.Duration `json:"auditRetention" env:"AUDIT_RETENTION" default:"720h" doc:"How long audit entries are kept"`
	AuditMaxEntries  int           `json:"auditMaxEntries" env:"AUDIT_MAX_ENTRIES" default:"100000" doc:"Most audit entries kept; the oldest beyond it are deleted"`

	CommandTimeoutDefault time.Duration `json:"commandTimeoutDefault" env:"COMMAND_TIMEOUT_DEFAULT" default:"30s" doc:"Timeout of a command that gives none"`
	CommandTimeoutMax     time.Duration `json:"commandTimeoutMax" env:"COMMAND_TIMEOUT_MAX" default:"300s" doc:"Largest timeout a command may ask for"`
	Keepalive             time.Duration `json:"keepalive" env:"EXECUTOR_KEEPALIVE" default:"15s" doc:"Interval of keepalive events on executor streams"`
	PresenceTTL           time.Duration `json:"presenceTTL" env:"EXECUTOR_PRESENCE_TTL" default:"40s" doc:"A stream not renewed for this long counts as gone (a crashed replica's executors show disconnected after it)"`

	RateLimitStandard int `json:"rateLimitStandard" env:"RATE_LIMIT_STANDARD" default:"100" doc:"Requests per minute per principal on standard endpoints"`
	RateLimitExecute  int `json:"rateLimitExecute" env:"RATE_LIMIT_EXECUTE" default:"50" doc:"Command executions per minute per principal"`
	RateLimitSession  int `json:"rateLimitSession" env:"RATE_LIMIT_SESSION" default:"20" doc:"Session creations per minute per principal"`

	LLMProvider   string        `json:"llmProvider" env:"LLM_PROVIDER" doc:"openai, anthropic, google (or gemini), openai-compatible; empty: no LLM — the agent answers from its built-in analyzers"`
	LLMAPIKey     string        `json:"llmAPIKey" env:"LLM_API_KEY" doc:"Provider API key (never logged); falls back to OPENAI_API_KEY, ANTHROPIC_API_KEY, GOOGLE_API_KEY then GEMINI_API_KEY (no fallback for openai-compatible)"`
	LLMModel      string        `json:"llmModel" env:"LLM_MODEL" doc:"Model name (a sensible default per provider)"`
	LLMBaseURL    string        `json:"llmBaseURL" env:"LLM_BASE_URL" doc:"Provider base URL (required for openai-compatible, e.g. http://localhost:11434/v1 for Ollama)"`
	LLMMaxRetries int           `json:"llmMaxRetries" env:"LLM_MAX_RETRIES" default:"2" doc:"Retries of rate-limited or failed provider calls"`
	AgentMaxSteps int           `json:"agentMaxSteps" env:"AGENT_MAX_STEPS" default:"25" doc:"Model turns per question"`
	AgentTokens   int           `json:"agentTokenBudget" env:"AGENT_TOKEN_BUDGET" default:"200000" doc:"Tokens (input+output) per question; a partial answer is given when spent"`
	AgentTimeout  time.Duration `json:"agentTimeout" env:"AGENT_TIMEOUT" default:"5m" doc:"Wall time per question"`
	AgentThreads  time.Duration `json:"agentThreadTTL" env:"AGENT_THREAD_TTL" default:"24h" doc:"How long conversation memory is kept"`

	MaxBodyBytes int64 `json:"maxBodyBytes" env:"MAX_BODY_BYTES" default:"1048576" doc:"Largest accepted request body"`

	LogLevel  string `json:"logLevel" env:"LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	LogFormat string `json:"logFormat" env:"LOG_FORMAT" default:"json" doc:"json or text"`
}

// LoadAPI reads the API configuration (see Source) and validates it.
func LoadAPI(src Source) (*API, error) {
	c := &API{}
	if err := load("kubently-api", c, src, "KUBENTLY_CONFIG", nil); err != nil {
		return nil, err
	}
	if c.LLMAPIKey == "" {
		c.LLMAPIKey = providerKey(c.LLMProvider, src)
	}
	return c, c.Validate()
}

// Validate checks ranges and cross-field rules.
func (c *API) Validate() error {
	var errs []error
	if c.SessionTTL < time.Minute || c.SessionTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("sessionTTL must be between 1m and 24h, got %s", c.SessionTTL))
	}
	if c.CommandTimeoutDefault <= 0 || c.CommandTimeoutMax < c.CommandTimeoutDefault {
		errs = append(errs, errors.New("commandTimeoutDefault must be positive and not above commandTimeoutMax"))
	}
	if c.Keepalive <= 0 || c.Keepalive > 15*time.Second {
		errs = append(errs, fmt.Errorf("keepalive must be in (0, 15s], got %s", c.Keepalive))
	}
	if c.PresenceTTL <= c.Keepalive || c.PresenceTTL > 45*time.Second {
		errs = append(errs, fmt.Errorf("presenceTTL must be above keepalive and at most 45s, got %s", c.PresenceTTL))
	}
	for name, v := range map[string]int{"rateLimitStandard": c.RateLimitStandard, "rateLimitExecute": c.RateLimitExecute, "rateLimitSession": c.RateLimitSession} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", name, v))
		}
	}
	switch strings.ToLower(c.LLMProvider) {
	case "", "openai", "anthropic", "google", "gemini", "openai-compatible":
	default:
		errs = append(errs, fmt.Errorf("llmProvider must be openai, anthropic, google, gemini or openai-compatible, got %q", c.LLMProvider))
	}
	if c.AgentMaxSteps < 1 || c.AgentTokens < 1000 || c.AgentTimeout < 10*time.Second {
		errs = append(errs, errors.New("agentMaxSteps must be >= 1, agentTokenBudget >= 1000 and agentTimeout >= 10s"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("maxBodyBytes must be positive"))
	}
	if c.OIDCIssuer != "" && c.OIDCAudience == "" {
		errs = append(errs, errors.New("oidcAudience is required with oidcIssuer"))
	}
	switch strings.ToLower(c.LogFormat) {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("logFormat must be json or text, got %q", c.LogFormat))
	}
	return errors.Join(errs...)
}

// providerKey reads the provider's conventional key variable when
// LLM_API_KEY is not set.
func providerKey(provider string, src Source) string {
	getenv := src.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	names := map[string][]string{
		// openai-compatible has no fallback: an OpenAI key must never be
		// sent to a third-party server.
		"openai":    {"OPENAI_API_KEY"},
		"anthropic": {"ANTHROPIC_API_KEY"},
		"google":    {"GOOGLE_API_KEY", "GEMINI_API_KEY"},
		"gemini":    {"GOOGLE_API_KEY", "GEMINI_API_KEY"},
	}[strings.ToLower(provider)]
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}
