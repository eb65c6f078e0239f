// Package server is kubently-api's composition root: it turns a validated
// configuration into a store, the domain services, the HTTP handler and a
// running http.Server with graceful shutdown. cmd/kubently-api only parses
// configuration and calls Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/kubently/kubently/internal/a2a"
	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/audit"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/httpapi"
	"github.com/kubently/kubently/internal/llm"
	"github.com/kubently/kubently/internal/ratelimit"
	"github.com/kubently/kubently/internal/session"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/boltstore"
	"github.com/kubently/kubently/internal/telemetry"
	"github.com/kubently/kubently/internal/version"
)

// App is a wired API server.
type App struct {
	Handler *httpapi.Server
	Store   store.Store
	log     *slog.Logger
}

// OpenStore opens the configured backend.
func OpenStore(cfg *config.API, log *slog.Logger) (store.Store, error) {
	if cfg.RedisURL != "" {
		return openRedis(cfg, log)
	}
	return boltstore.Open(cfg.DataDir, time.Minute, log)
}

// Build wires the services over an opened store.
func Build(cfg *config.API, st store.Store, log *slog.Logger) (*App, error) {
	keyEntries := cfg.APIKeys
	if cfg.APIKeysFile != "" {
		b, err := os.ReadFile(cfg.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("read API keys file: %w", err)
		}
		keyEntries = append(keyEntries, config.SplitList(string(b))...)
	}
	keys, err := auth.ParseKeys(keyEntries)
	if err != nil {
		return nil, err
	}
	tokEntries := cfg.ExecutorTokens
	if cfg.ExecutorTokensFile != "" {
		b, err := os.ReadFile(cfg.ExecutorTokensFile)
		if err != nil {
			return nil, fmt.Errorf("read executor tokens file: %w", err)
		}
		tokEntries = append(tokEntries, config.SplitList(string(b))...)
	}
	static, err := cluster.ParseStaticTokens(tokEntries)
	if err != nil {
		return nil, err
	}
	var oidc *auth.OIDC
	if cfg.OIDCIssuer != "" {
		groups, err := auth.ParseClusterGroups(cfg.OIDCClusterGroups)
		if err != nil {
			return nil, err
		}
		oidc = auth.NewOIDC(auth.OIDCConfig{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, GroupsClaim: cfg.OIDCGroupsClaim, AdminGroups: cfg.OIDCAdminGroups, ClusterGroups: groups}, log)
	}
	if keys.Len() == 0 && oidc == nil {
		log.Warn("no API keys and no OIDC issuer configured: every client request will be refused (set API_KEYS)")
	}
	metrics := telemetry.NewMetrics()
	sessions := session.NewService(st, session.Config{DefaultTTL: cfg.SessionTTL, IdleAfter: cfg.SessionIdleAfter, Retention: cfg.SessionRetention})
	clusters := cluster.NewRegistry(st, static)
	al := audit.NewLog(st, cfg.AuditRetention, cfg.AuditMaxEntries)
	dcfg := dispatch.DefaultConfig()
	dcfg.DefaultTimeout, dcfg.MaxTimeout = cfg.CommandTimeoutDefault, cfg.CommandTimeoutMax
	dcfg.Retention, dcfg.Keepalive, dcfg.PresenceTTL = cfg.ResultRetention, cfg.Keepalive, cfg.PresenceTTL
	disp := dispatch.New(st, sessions, clusters, al, dcfg, log, metrics)
	limiter := ratelimit.New(st, ratelimit.Limits{ratelimit.Standard: cfg.RateLimitStandard, ratelimit.Execute: cfg.RateLimitExecute, ratelimit.Session: cfg.RateLimitSession})
	investigator, err := buildAgent(cfg, st, sessions, clusters, disp, log)
	if err != nil {
		return nil, err
	}
	mounts := a2a.Routes(a2a.Deps{
		Investigator: investigator, Store: st, Log: log, Version: version.String(),
		BearerAuth: oidc != nil, DefaultTimeout: cfg.AgentTimeout, MaxBodyBytes: cfg.MaxBodyBytes,
	})
	h := httpapi.New(httpapi.Deps{
		Store: st, Sessions: sessions, Clusters: clusters, Dispatcher: disp, Audit: al, Limiter: limiter,
		Keys: keys, OIDC: oidc, Log: log, Version: version.String(), MaxBodyBytes: cfg.MaxBodyBytes, Metrics: metrics,
		Mounts: mounts,
	})
	return &App{Handler: h, Store: st, log: log}, nil
}

// buildAgent wires the investigator: the configured LLM provider, or none
// (the agent then answers from its analyzers).
func buildAgent(cfg *config.API, st store.Store, sessions *session.Service, clusters *cluster.Registry, disp *dispatch.Dispatcher, log *slog.Logger) (*agent.Agent, error) {
	var provider llm.Provider
	if cfg.LLMProvider != "" {
		p, err := llm.New(llm.Config{Provider: cfg.LLMProvider, APIKey: cfg.LLMAPIKey, Model: cfg.LLMModel, BaseURL: cfg.LLMBaseURL, MaxRetries: cfg.LLMMaxRetries})
		if err != nil {
			return nil, err
		}
		provider = p
		log.Info("agent language model", "provider", p.Name(), "model", p.Model())
	} else {
		log.Info("no LLM configured: the agent answers from its built-in analyzers")
	}
	k := &agent.DispatchKubectl{Sessions: sessions, Registry: clusters, Dispatcher: disp, Timeout: cfg.CommandTimeoutDefault}
	return agent.New(k, provider, st, agent.Config{
		MaxSteps: cfg.AgentMaxSteps, TokenBudget: cfg.AgentTokens, Timeout: cfg.AgentTimeout, ThreadTTL: cfg.AgentThreads,
	}, log), nil
}

// Run serves cfg until ctx is cancelled, then shuts down gracefully.
func Run(ctx context.Context, cfg *config.API, log *slog.Logger) error {
	st, err := OpenStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	app, err := Build(cfg, st, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	return app.Serve(ctx, ln)
}

// Serve runs the HTTP server on ln until ctx ends. Streams are not bound by a
// server-wide write timeout (they set per-write deadlines); headers and idle
// connections are.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("kubently-api listening", "addr", ln.Addr().String(), "store", a.Store.Name(), "version", version.String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	return err
}
