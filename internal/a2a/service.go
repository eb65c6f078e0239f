package a2a

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2acompat/a2av0"
	"github.com/a2aproject/a2a-go/v2/a2asrv"

	"github.com/kubently/kubently/internal/problem"
)

// service holds the state shared by the A2A routes.
type service struct {
	d     Deps
	tasks *taskStore
	exec  *executor
	cards *cardSource
	v1    http.Handler // A2A 1.0 JSON-RPC binding
	v0    http.Handler // A2A 0.3 JSON-RPC binding, same handler underneath
}

func newService(d Deps) *service {
	d.defaults()
	if d.Investigator == nil || d.Store == nil {
		panic("a2a: Deps.Investigator and Deps.Store are required")
	}
	s := &service{d: d, tasks: newTaskStore(d.Store, d.TaskRetention)}
	s.exec = newExecutor(d.Investigator, s.tasks, d.Store, d.DefaultTimeout, d.Log)
	s.cards = newCardSource(d)
	caps := s.cards.capabilities()
	handler := a2asrv.NewHandler(s.exec,
		a2asrv.WithTaskStore(s.tasks),
		a2asrv.WithLogger(d.Log),
		a2asrv.WithCapabilityChecks(&caps),
		a2asrv.WithCallInterceptors(&interceptor{tasks: s.tasks, defaultTimeout: d.DefaultTimeout}),
		a2asrv.WithExtendedAgentCardProducer(a2asrv.ExtendedAgentCardProducerFn(s.cards.extended)),
		a2asrv.WithExecutionPanicHandler(s.panicked),
	)
	opts := []a2asrv.TransportOption{
		a2asrv.WithTransportKeepAlive(d.Keepalive),
		a2asrv.WithTransportPanicHandler(s.panicked),
	}
	s.v1 = a2asrv.NewJSONRPCHandler(handler, opts...)
	s.v0 = a2av0.NewJSONRPCHandler(handler, opts...)
	return s
}

// panicked turns a panic inside the SDK or the executor into an internal
// error for the caller; the stack goes to the log only.
func (s *service) panicked(r any) error {
	s.d.Log.Error("panic in A2A handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return sdk.NewError(sdk.ErrInternalError, "An unexpected error occurred")
}

// asRPCError maps a header problem to the SDK's invalid-params error, so the
// JSON-RPC binding reports it in its own error format.
func asRPCError(p *problem.Error) error {
	if p == nil {
		return nil
	}
	return sdk.NewError(sdk.ErrInvalidParams, p.Message)
}

var errNoPrincipal = errors.New("a2a: no authenticated principal in the request context")
