package a2a

import (
	"context"
	"net/http"
	"time"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2asrv"

	"github.com/kubently/kubently/internal/auth"
)

type ctxKey int

const (
	keyVersionError ctxKey = iota
	keyHistoryLength
	keyHeaders
	keyBaseURL
)

// interceptor runs before and after every A2A method: it turns the
// authenticated principal into the SDK's call-context user, refuses
// unsupported protocol versions and bad headers, checks task ownership where
// the SDK does not, and applies historyLength to SendMessage results.
type interceptor struct {
	tasks          *taskStore
	defaultTimeout time.Duration
}

var _ a2asrv.CallInterceptor = (*interceptor)(nil)

// Before implements a2asrv.CallInterceptor.
func (i *interceptor) Before(ctx context.Context, callCtx *a2asrv.CallContext, req *a2asrv.Request) (context.Context, any, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return ctx, nil, sdk.ErrUnauthenticated
	}
	callCtx.User = a2asrv.NewAuthenticatedUser(ownerKey(p), map[string]any{"id": p.ID, "role": p.Role, "method": p.Method})
	if err, _ := ctx.Value(keyVersionError).(error); err != nil {
		return ctx, nil, err
	}
	switch r := req.Payload.(type) {
	case *sdk.SendMessageRequest:
		if h, _ := ctx.Value(keyHeaders).(http.Header); h != nil {
			if _, perr := parseTimeout(h.Get(HeaderRequestTimeout), i.defaultTimeout); perr != nil {
				return ctx, nil, asRPCError(perr)
			}
			if _, perr := parseServiceIdentity(h.Get(HeaderServiceIdentity)); perr != nil {
				return ctx, nil, asRPCError(perr)
			}
		}
		if r.Message != nil && r.Message.TaskID != "" {
			if _, err := i.tasks.Get(ctx, r.Message.TaskID); err != nil {
				return ctx, nil, err
			}
		}
		if r.Config != nil && r.Config.HistoryLength != nil {
			ctx = context.WithValue(ctx, keyHistoryLength, *r.Config.HistoryLength)
		}
	case *sdk.SubscribeToTaskRequest:
		// The SDK resubscribes to any running execution by id; only the
		// task's owner may.
		if _, err := i.tasks.Get(ctx, r.ID); err != nil {
			return ctx, nil, err
		}
	case *sdk.CancelTaskRequest:
		if _, err := i.tasks.Get(ctx, r.ID); err != nil {
			return ctx, nil, err
		}
	}
	return ctx, nil, nil
}

// After implements a2asrv.CallInterceptor.
func (i *interceptor) After(ctx context.Context, callCtx *a2asrv.CallContext, resp *a2asrv.Response) error {
	n, ok := ctx.Value(keyHistoryLength).(int)
	if !ok || resp.Err != nil {
		return nil
	}
	if t, isTask := resp.Payload.(*sdk.Task); isTask && t != nil {
		trimmed := *t
		trimmed.History = trimHistory(t.History, n)
		resp.Payload = &trimmed
	}
	return nil
}
