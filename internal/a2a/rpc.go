package a2a

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2acompat/a2av0"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/sse"
)

// v1Methods are the A2A 1.0 JSON-RPC method names. They never collide with
// the 0.3 names (message/send, tasks/get, ...).
var v1Methods = map[string]bool{
	"SendMessage": true, "SendStreamingMessage": true, "GetTask": true, "ListTasks": true,
	"CancelTask": true, "SubscribeToTask": true, "GetExtendedAgentCard": true,
	"CreateTaskPushNotificationConfig": true, "GetTaskPushNotificationConfig": true,
	"ListTaskPushNotificationConfigs": true, "DeleteTaskPushNotificationConfig": true,
}

// pickBinding chooses the protocol binding of a request from its A2A-Version
// header: 1.0 (also "1" or "1.0.x") gets the 1.0 binding, 0.3 (or
// "0.3.x") the 0.3 binding. Without
// the header the A2A 1.0 specification says to assume 0.3; a request that
// nevertheless uses a 1.0 method name is served by the 1.0 binding, since the
// names cannot be mistaken. Any other version is refused with
// VersionNotSupported by the binding its method name belongs to.
func pickBinding(version, method string) (v1 bool, err error) {
	v := strings.TrimSpace(version)
	majorMinor := v
	if parts := strings.Split(v, "."); len(parts) > 2 {
		majorMinor = parts[0] + "." + parts[1] // a patch level does not matter
	}
	switch majorMinor {
	case "1.0", "1":
		return true, nil
	case "0.3":
		return false, nil
	case "":
		return v1Methods[method], nil
	default:
		return v1Methods[method], sdk.NewError(sdk.ErrVersionNotSupported,
			fmt.Sprintf("A2A-Version %q is not supported; this agent speaks %s and %s", v, sdk.Version, a2av0.Version))
	}
}

// serveRPC is the JSON-RPC endpoint at /a2a and /a2a/. httpapi has already
// authenticated the caller and applied the rate limit.
func (s *service) serveRPC(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return problem.New(api.CodeTooLarge, "Request body exceeds the limit of %d bytes", s.d.MaxBodyBytes).
				WithDetails(map[string]any{"limit_bytes": s.d.MaxBodyBytes})
		}
		return problem.Invalid("", "unreadable_body", "Could not read the request body: %v", err)
	}
	var envelope struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(body, &envelope) // a malformed body is the binding's to report
	v1, verr := pickBinding(r.Header.Get(HeaderA2AVersion), envelope.Method)
	ctx := context.WithValue(r.Context(), keyHeaders, r.Header.Clone())
	ctx = context.WithValue(ctx, keyBaseURL, s.baseURL(r))
	if verr != nil {
		ctx = context.WithValue(ctx, keyVersionError, verr)
	}
	r = r.WithContext(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	h := s.v0
	if v1 {
		h = s.v1
	}
	lw := &lazyWriter{w: w, rc: http.NewResponseController(w)}
	h.ServeHTTP(lw, r)
	return lw.finish()
}

// writeTimeout bounds each write to a client, as for every event stream.
const writeTimeout = sse.WriteTimeout

// lazyWriter sits between the SDK's JSON-RPC binding and the client. It
//
//   - holds back the headers of an event stream until its first event: when
//     that event is a JSON-RPC error (the method failed before streaming
//     started: unknown task, invalid params, unsupported version), the
//     client gets a plain application/json JSON-RPC error response instead
//     of a 200 event stream, as the A2A JSON-RPC binding and its conformance
//     kit expect;
//   - gives every response a Content-Type and Cache-Control: no-store
//     (the 0.3 binding omits the Content-Type of its errors);
//   - implements http.Flusher through http.ResponseController (the SDK
//     requires a Flusher; httpapi's wrapper only exposes Unwrap) and sets a
//     write deadline before each write.
type lazyWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController

	mu        sync.Mutex
	status    int
	committed bool // headers sent
	dropped   bool // the stream was turned into a JSON error; ignore the rest
	pending   bytes.Buffer
	err       error
}

func (l *lazyWriter) Header() http.Header { return l.w.Header() }

func (l *lazyWriter) WriteHeader(code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status == 0 {
		l.status = code
	}
}

func (l *lazyWriter) isStream() bool {
	return strings.HasPrefix(l.w.Header().Get("Content-Type"), "text/event-stream")
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped {
		return len(p), nil
	}
	if l.committed {
		return l.write(p)
	}
	if !l.isStream() {
		l.commit()
		return l.write(p)
	}
	l.pending.Write(p)
	i := bytes.Index(l.pending.Bytes(), []byte("\n\n"))
	if i < 0 {
		return len(p), nil
	}
	if data, ok := errorEvent(l.pending.Bytes()[:i]); ok {
		l.dropped = true
		h := l.w.Header()
		for _, k := range []string{"Connection", "X-Accel-Buffering", "Cache-Control"} {
			h.Del(k)
		}
		h.Set("Content-Type", "application/json")
		l.commit()
		_, err := l.write(append(data, '\n'))
		return len(p), err
	}
	l.commit()
	buf := l.pending.Bytes()
	l.pending.Reset()
	if _, err := l.write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// errorEvent reports whether an SSE event carries a JSON-RPC error object
// and returns its data.
func errorEvent(event []byte) ([]byte, bool) {
	var data []byte
	for _, line := range bytes.Split(event, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(rest, []byte(" "))...)
		}
	}
	if len(data) == 0 {
		return nil, false
	}
	var msg struct {
		Error  json.RawMessage `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(data, &msg) != nil || len(msg.Error) == 0 || string(msg.Error) == "null" || len(msg.Result) > 0 {
		return nil, false
	}
	return data, true
}

// commit sends the headers (mu held).
func (l *lazyWriter) commit() {
	if l.committed {
		return
	}
	l.committed = true
	h := l.w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	status := l.status
	if status == 0 {
		status = http.StatusOK
	}
	l.w.WriteHeader(status)
}

// write sends p with a fresh deadline (mu held).
func (l *lazyWriter) write(p []byte) (int, error) {
	_ = l.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := l.w.Write(p)
	if err != nil && l.err == nil {
		l.err = err
	}
	return n, err
}

// Flush implements http.Flusher. Nothing is flushed while the first event of
// a stream is still held back.
func (l *lazyWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.committed || l.dropped {
		return
	}
	_ = l.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_ = l.rc.Flush()
}

// finish sends whatever is still held back once the binding returns.
func (l *lazyWriter) finish() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped {
		_ = l.rc.Flush()
		return nil
	}
	if !l.committed {
		l.commit()
	}
	if l.pending.Len() > 0 {
		_, _ = l.write(l.pending.Bytes())
		l.pending.Reset()
	}
	_ = l.rc.Flush()
	return nil
}
