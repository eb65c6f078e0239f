package kube

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// RefusedError is returned by the read-only transport for a request it does
// not let through. The request never reaches the network.
type RefusedError struct {
	Method string
	Path   string
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("kubently read-only transport refused %s %s: %s", e.Method, e.Path, e.Reason)
}

// apiPath is the parsed form of a Kubernetes REST path such as
// /api/v1/namespaces/ns/pods/name/log or /apis/apps/v1/deployments.
type apiPath struct {
	group, version string
	namespace      string
	resource       string
	name           string
	subresource    string
	watch          bool
	isAPI          bool // under /api or /apis at all
}

// parseAPIPath parses a request path of the Kubernetes API. Paths outside
// /api and /apis (/version, /openapi/v3, /healthz, ...) return isAPI=false.
func parseAPIPath(p string) apiPath {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	var a apiPath
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		a.isAPI, a.version, segs = true, segs[1], segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		a.isAPI, a.group, a.version, segs = true, segs[1], segs[2], segs[3:]
	default:
		if len(segs) >= 1 && (segs[0] == "api" || segs[0] == "apis") {
			a.isAPI = true
		}
		return a
	}
	if len(segs) > 0 && segs[0] == "watch" {
		a.watch, segs = true, segs[1:]
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		a.namespace, segs = segs[1], segs[2:]
	} else if len(segs) == 2 && segs[0] == "namespaces" {
		// /api/v1/namespaces/{name}: the namespace object itself.
		a.resource, a.name = segs[0], segs[1]
		return a
	}
	if len(segs) > 0 {
		a.resource = segs[0]
	}
	if len(segs) > 1 {
		a.name = segs[1]
	}
	if len(segs) > 2 {
		a.subresource = segs[2]
	}
	return a
}

// isSecretPath reports whether the path addresses core/v1 Secrets (a single
// secret, a list, or a watch of them).
func (a apiPath) isSecretPath() bool {
	return a.isAPI && a.group == "" && a.version == "v1" && a.resource == "secrets"
}

// streamingSubresources are the subresources that open an interactive stream
// to a container or tunnel arbitrary traffic; in read-only mode they are
// refused whatever the HTTP verb (WebSocket exec, for one, is a GET).
var streamingSubresources = map[string]bool{
	"exec":        true,
	"attach":      true,
	"portforward": true,
	"proxy":       true,
}

// accessReviewResources are the only objects a read-only executor may create:
// they ask the API server what the executor itself may do and change nothing.
var accessReviewResources = map[string]bool{
	"selfsubjectaccessreviews": true,
	"selfsubjectrulesreviews":  true,
}

// guardPolicy decides which requests the read-only transport lets through.
type guardPolicy struct {
	readOnly  bool
	allowExec bool
}

// check returns a *RefusedError when the request must not be sent.
func (g guardPolicy) check(req *http.Request) error {
	if !g.readOnly {
		return nil
	}
	a := parseAPIPath(req.URL.Path)
	isExec := a.isAPI && a.group == "" && a.resource == "pods" && a.subresource == "exec"
	refuse := func(reason string) error {
		return &RefusedError{Method: req.Method, Path: req.URL.Path, Reason: reason}
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		if a.isAPI && streamingSubresources[a.subresource] {
			if isExec && g.allowExec {
				return nil
			}
			return refuse("the " + a.subresource + " subresource is not allowed in read-only mode")
		}
		return nil
	case http.MethodPost:
		if a.isAPI && a.group == "authorization.k8s.io" && a.namespace == "" && a.name == "" && accessReviewResources[a.resource] {
			return nil
		}
		if isExec && g.allowExec {
			return nil
		}
	}
	return refuse("only GET, HEAD and OPTIONS requests (and self access reviews) are allowed in read-only mode")
}

// guardTransport enforces guardPolicy in front of the network.
type guardTransport struct {
	policy guardPolicy
	next   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.check(req); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // RoundTrip must close the body, even on errors
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// contextTransport ties every request to the context of one command run, so
// that cancelling the run (its deadline, or the caller giving up) aborts the
// kubectl library's HTTP calls even where that code uses context.TODO().
type contextTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *contextTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	rctx, cancel := context.WithCancelCause(req.Context())
	// Runs (and is released) when the run's context ends: Runner.Run always
	// cancels it when the command returns, so nothing outlives the run.
	context.AfterFunc(t.ctx, func() { cancel(context.Cause(t.ctx)) })
	return t.next.RoundTrip(req.WithContext(rctx))
}
