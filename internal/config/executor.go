package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Executor is the configuration of kubently-executor. Allow and deny rules
// (lists of {verbs, resources, namespaces}) come from the YAML file only.
type Executor struct {
	APIURL             string `json:"apiURL" env:"KUBENTLY_API_URL" doc:"URL of the Kubently API the executor dials out to"`
	ClusterID          string `json:"clusterID" env:"CLUSTER_ID" doc:"This cluster's id (a DNS-1123 label), as registered in the API"`
	Token              string `json:"token" env:"KUBENTLY_TOKEN" doc:"Executor token for this cluster (never logged); prefer tokenFile"`
	TokenFile          string `json:"tokenFile" env:"KUBENTLY_TOKEN_FILE" doc:"File holding the executor token (e.g. a mounted Secret)"`
	CAFile             string `json:"caFile" env:"KUBENTLY_CA_FILE" doc:"CA bundle to verify the API's TLS certificate"`
	InsecureSkipVerify bool   `json:"insecureSkipTLSVerify" env:"KUBENTLY_INSECURE_SKIP_TLS_VERIFY" default:"false" doc:"Do not verify the API's certificate (testing only)"`

	SecurityMode    string `json:"securityMode" env:"SECURITY_MODE" default:"readOnly" doc:"readOnly, extendedReadOnly (adds non-interactive exec) or fullAccess (adds mutating verbs; needs allowFullAccess)"`
	AllowFullAccess bool   `json:"allowFullAccess" env:"KUBENTLY_ALLOW_FULL_ACCESS" default:"false" doc:"Explicit acknowledgement required to run in fullAccess mode"`

	Kubeconfig     string        `json:"kubeconfig" env:"KUBECONFIG" doc:"Kubeconfig to use instead of the in-cluster ServiceAccount"`
	Concurrency    int           `json:"concurrency" env:"EXECUTOR_CONCURRENCY" default:"8" doc:"Commands run at the same time"`
	MaxOutputBytes int           `json:"maxOutputBytes" env:"EXECUTOR_MAX_OUTPUT_BYTES" default:"1048576" doc:"Output cap per command; longer output is cut with a note"`
	IdleTimeout    time.Duration `json:"idleTimeout" env:"EXECUTOR_IDLE_TIMEOUT" default:"45s" doc:"Silence on the stream after which the connection is presumed dead"`

	LogLevel  string `json:"logLevel" env:"LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	LogFormat string `json:"logFormat" env:"LOG_FORMAT" default:"json" doc:"json or text"`

	// Rules holds the allow/deny rules read from the configuration file.
	Rules RuleSet `json:"-"`
}

// Rule is one allow or deny rule of the executor's policy; empty lists match anything.
type Rule struct {
	Verbs      []string `json:"verbs,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// RuleSet is the allow and deny lists.
type RuleSet struct {
	Allow []Rule `json:"allow,omitempty"`
	Deny  []Rule `json:"deny,omitempty"`
}

// LoadExecutor reads the executor configuration and validates it.
func LoadExecutor(src Source) (*Executor, error) {
	c := &Executor{}
	rules := func(doc map[string]any) error {
		raw, err := yaml.Marshal(map[string]any{"allow": doc["allow"], "deny": doc["deny"]})
		if err != nil {
			return err
		}
		delete(doc, "allow")
		delete(doc, "deny")
		if err := yaml.UnmarshalStrict(raw, &c.Rules); err != nil {
			return fmt.Errorf("allow/deny rules: %w", err)
		}
		return nil
	}
	if err := load("kubently-executor", c, src, "KUBENTLY_EXECUTOR_CONFIG", rules); err != nil {
		return nil, err
	}
	if c.TokenFile != "" && c.Token == "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	return c, c.Validate()
}

// Validate checks the executor settings.
func (c *Executor) Validate() error {
	var errs []error
	if c.APIURL == "" {
		errs = append(errs, errors.New("apiURL is required (KUBENTLY_API_URL)"))
	} else if !strings.HasPrefix(c.APIURL, "http://") && !strings.HasPrefix(c.APIURL, "https://") {
		errs = append(errs, fmt.Errorf("apiURL must start with http:// or https://, got %q", c.APIURL))
	}
	if c.ClusterID == "" {
		errs = append(errs, errors.New("clusterID is required (CLUSTER_ID)"))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("a token is required (KUBENTLY_TOKEN or KUBENTLY_TOKEN_FILE)"))
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("concurrency must be 1..256, got %d", c.Concurrency))
	}
	if c.MaxOutputBytes < 1024 {
		errs = append(errs, fmt.Errorf("maxOutputBytes must be at least 1024, got %d", c.MaxOutputBytes))
	}
	if c.IdleTimeout < 20*time.Second {
		errs = append(errs, fmt.Errorf("idleTimeout must be at least 20s (keepalives come every 15s), got %s", c.IdleTimeout))
	}
	return errors.Join(errs...)
}
