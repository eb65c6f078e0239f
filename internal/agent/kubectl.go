package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/session"
)

// Kubectl runs commands for the agent as the calling principal: the same
// session rules, security policy, executor path and audit as POST
// /debug/execute, so the agent can never do more than its caller.
type Kubectl interface {
	// Run executes argv (verb first) in a cluster and returns its result. A
	// refusal (denied, no executor, unknown cluster) is an error whose text is
	// fit to show the model.
	Run(ctx context.Context, inv *Investigation, clusterID string, argv []string) (api.Result, error)
	// Clusters lists the clusters the principal may see.
	Clusters(ctx context.Context, p *auth.Principal) ([]api.Cluster, error)
}

// Investigation is the per-question state tools share: who asks, for which
// conversation, and the debug sessions opened on their behalf.
type Investigation struct {
	Req      Request
	ThreadID string

	mu       sync.Mutex
	sessions map[string]string // cluster -> session id
}

// DispatchKubectl is the Kubectl of the API process, over the dispatcher.
type DispatchKubectl struct {
	Sessions   *session.Service
	Registry   *cluster.Registry
	Dispatcher *dispatch.Dispatcher
	Timeout    time.Duration // per command
}

func (k *DispatchKubectl) session(ctx context.Context, inv *Investigation, clusterID string) (string, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.sessions == nil {
		inv.sessions = map[string]string{}
	}
	if id, ok := inv.sessions[clusterID]; ok {
		return id, nil
	}
	if err := k.Registry.Visible(ctx, inv.Req.Principal, clusterID); err != nil {
		return "", err
	}
	rec, err := k.Sessions.Create(ctx, inv.Req.Principal, session.CreateRequest{
		ClusterID:     clusterID,
		Metadata:      map[string]any{"agent": true, "thread_id": inv.ThreadID, "service_identity": inv.Req.ServiceIdentity},
		CorrelationID: inv.Req.CorrelationID,
	})
	if err != nil {
		return "", err
	}
	inv.sessions[clusterID] = rec.ID
	return rec.ID, nil
}

// Close ends the debug sessions an investigation opened.
func (k *DispatchKubectl) Close(ctx context.Context, inv *Investigation) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	for _, id := range inv.sessions {
		_, _ = k.Sessions.Close(ctx, inv.Req.Principal, id)
	}
	inv.sessions = nil
}

// Run implements Kubectl.
func (k *DispatchKubectl) Run(ctx context.Context, inv *Investigation, clusterID string, argv []string) (api.Result, error) {
	if len(argv) == 0 {
		return api.Result{}, errors.New("empty command")
	}
	sid, err := k.session(ctx, inv, clusterID)
	if err != nil {
		return api.Result{}, err
	}
	timeout := k.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if timeout < time.Second {
		return api.Result{}, context.DeadlineExceeded
	}
	source := inv.Req.Source
	if source == "" {
		source = "agent"
	}
	rec, err := k.Dispatcher.Submit(ctx, inv.Req.Principal, dispatch.Request{
		ClusterID: clusterID, SessionID: sid, CommandType: argv[0], Args: argv[1:], Timeout: timeout.Truncate(time.Second),
		CorrelationID: inv.Req.CorrelationID, Source: source,
	})
	if err != nil {
		return api.Result{}, err
	}
	rec, err = k.Dispatcher.Wait(ctx, rec)
	if err != nil {
		return api.Result{}, err
	}
	if rec.Denial != nil {
		return api.Result{}, dispatch.DeniedError(rec.Denial)
	}
	return rec.View(), nil
}

// Clusters implements Kubectl.
func (k *DispatchKubectl) Clusters(ctx context.Context, p *auth.Principal) ([]api.Cluster, error) {
	ids, err := k.Registry.IDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.Cluster
	for _, id := range ids {
		if !p.CanAccessCluster(id) {
			continue
		}
		n, err := k.Sessions.ActiveCount(ctx, id)
		if err != nil {
			return nil, err
		}
		c, err := k.Registry.View(ctx, id, n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// describeError turns a refusal into text for the model and the stream.
func describeError(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Message
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the investigation ran out of time before this command could run"
	}
	return fmt.Sprintf("error: %v", err)
}

// splitCommand splits a kubectl command line into argv, honouring single
// and double quotes and backslash escapes; a leading "kubectl" is dropped.
func splitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped, inWord = false, true
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unbalanced quotes in command")
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) > 0 && out[0] == "kubectl" {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil, errors.New("empty command")
	}
	return out, nil
}
