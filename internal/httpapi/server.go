// Package httpapi is Kubently's HTTP surface: the REST contract of the API
// reference, the executor stream, health, metrics, the OpenAPI document and
// the offline docs page. One route table drives both the mux and the OpenAPI
// document, so the documentation cannot drift from what is served; one
// middleware chain authenticates and rate-limits every route according to its
// table entry; one function (errors.go) turns errors into responses.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/audit"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/ratelimit"
	"github.com/kubently/kubently/internal/session"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/telemetry"
)

// Deps are the services the HTTP layer serves.
type Deps struct {
	Store      store.Store
	Sessions   *session.Service
	Clusters   *cluster.Registry
	Dispatcher *dispatch.Dispatcher
	Audit      *audit.Log
	Limiter    *ratelimit.Limiter
	Keys       *auth.KeySet
	OIDC       *auth.OIDC // nil when not configured
	Log        *slog.Logger
	Version    string
	// MaxBodyBytes bounds request bodies.
	MaxBodyBytes int64
	Metrics      *telemetry.Metrics
	// Mounts are extra routes from other packages (A2A, MCP), authenticated
	// and rate-limited by this package like every other route.
	Mounts []Route
}

// Server is the HTTP handler of kubently-api.
type Server struct {
	Deps
	log     *slog.Logger
	started time.Time
	routes  []Route
	openapi []byte
	handler http.Handler
}

// New builds the server and its routes.
func New(d Deps) *Server {
	s := &Server{Deps: d, log: d.Log, started: time.Now()}
	s.routes = append(s.table(), d.Mounts...)
	s.openapi = renderOpenAPI(s.routes, d.Version)
	mux := http.NewServeMux()
	byPath := map[string][]string{}
	for _, rt := range s.routes {
		mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
		byPath[rt.Path] = append(byPath[rt.Path], rt.Method)
	}
	for path, methods := range byPath {
		allow := strings.Join(methods, ", ")
		mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, r, s.log, problem.New(codeMethodNotAllowed, "Method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		}))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, problem.NotFound("No such endpoint: %s %s", r.Method, r.URL.Path))
	}))
	s.handler = s.outer(mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Routes returns the route table (for the OpenAPI document and tests).
func (s *Server) Routes() []Route { return s.routes }

// Access says who may call a route.
type Access int

// Access levels.
const (
	Public   Access = iota // no credentials
	Client                 // any authenticated client (API key or OIDC)
	Admin                  // a client with the admin role
	Executor               // an executor's bearer token for its cluster
)

// Handler serves one route; a returned error becomes the error response.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Route is one endpoint: how it is served and how it is documented.
type Route struct {
	Method, Path string
	Summary      string
	Description  string
	Tag          string
	Access       Access
	Rate         ratelimit.Class // "" for routes without a client quota
	Params       []Param
	Request      any         // zero value of the body type, nil when none
	Responses    map[int]any // status -> zero value of the body type (nil: no body)
	Stream       bool        // the 200 response is text/event-stream
	Handle       Handler
}

// Param is a path or query parameter.
type Param struct {
	Name, In, Description string
	Required              bool
	Type                  string // string or integer
	Enum                  []string
}

// wrap applies the route's access rule and quota, then runs its handler.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.admit(w, r, rt); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := rt.Handle(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// admit authenticates and rate-limits according to the route; on success the
// principal is in the request context.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, rt Route) error {
	switch rt.Access {
	case Public:
		return nil
	case Executor:
		return s.Clusters.VerifyExecutor(r.Context(), r.Header.Get(api.HeaderClusterID), bearer(r))
	}
	p, err := s.authenticate(r)
	if err != nil {
		return err
	}
	*r = *r.WithContext(auth.WithPrincipal(r.Context(), p))
	if rt.Rate != "" {
		if err := s.Limiter.Check(r.Context(), w.Header(), rt.Rate, p.ID); err != nil {
			return err
		}
	}
	if rt.Access == Admin && !p.IsAdmin() {
		return problem.Forbidden("This endpoint requires the admin role")
	}
	return nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate identifies a client by X-API-Key or, when OIDC is configured,
// by a bearer JWT. Any failure is a 401 that reveals nothing about keys.
func (s *Server) authenticate(r *http.Request) (*auth.Principal, error) {
	if key := r.Header.Get(api.HeaderAPIKey); key != "" {
		if p, ok := s.Keys.Lookup(key); ok {
			return p, nil
		}
		return nil, problem.Unauthorized("Invalid or missing API key")
	}
	if tok := bearer(r); tok != "" && s.OIDC != nil {
		p, err := s.OIDC.Verify(r.Context(), tok)
		if err != nil {
			return nil, problem.Unauthorized("Invalid bearer token").WithCause(err).
				WithHeader("WWW-Authenticate", `Bearer realm="kubently", error="invalid_token"`)
		}
		return p, nil
	}
	return nil, problem.Unauthorized("Invalid or missing API key")
}

// principal returns the authenticated principal of a Client/Admin route.
func principal(r *http.Request) *auth.Principal { return auth.FromContext(r.Context()) }

// readyCheck reports whether the store answers within a short time.
func (s *Server) readyCheck(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := s.Store.Ping(ctx)
	if err != nil && !errors.Is(err, store.ErrUnavailable) {
		err = errors.Join(store.ErrUnavailable, err)
	}
	return err
}
