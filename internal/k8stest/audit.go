package k8stest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// ExecutorUser is the Kubernetes user name of the executor's ServiceAccount
// (see ReadOnlyServiceAccount), as it appears in the apiserver's audit log.
const ExecutorUser = "system:serviceaccount:" + ExecutorNamespace + ":" + ExecutorServiceAccount

// Audit stages, as the apiserver writes them in AuditEvent.Stage.
const (
	// StageRequestReceived is logged as soon as the apiserver has read and
	// authenticated a request, before it is authorized or served.
	StageRequestReceived = "RequestReceived"
	// StageResponseComplete is logged when the response has been sent.
	StageResponseComplete = "ResponseComplete"
)

// auditPolicy logs every request at Metadata level (who, what, when, the
// response code; no bodies) in every stage.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
`

// AuditEvent is one entry of the apiserver's audit log. The control plane
// logs every request at Metadata level, so tests can prove what an identity
// did (or did not do) at the Kubernetes API.
type AuditEvent struct {
	// AuditID is shared by the events of one request.
	AuditID string
	// Stage is StageRequestReceived, "ResponseStarted" (long-running
	// requests), StageResponseComplete or "Panic".
	Stage string
	// Verb is the Kubernetes verb: get, list, watch, create, ...
	Verb string
	// RequestURI is the path and query of the request.
	RequestURI string
	// User is the authenticated user name ("system:anonymous" when none).
	User string
	// UserAgent is the client's User-Agent header.
	UserAgent string
	// Code is the HTTP status of the response; 0 before the response.
	Code int
	// Received is when the apiserver received the request.
	Received time.Time
}

// auditRecord is the JSON shape of an audit.k8s.io/v1 Event, reduced to the
// fields AuditEvent holds.
type auditRecord struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	UserAgent      string `json:"userAgent"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// AuditLogPath is the apiserver's audit log: one JSON event per line.
func (cp *ControlPlane) AuditLogPath() string { return cp.path("audit.log") }

// writeAuditPolicy writes the audit policy the apiserver is started with.
func (cp *ControlPlane) writeAuditPolicy() error {
	return os.WriteFile(cp.path("audit-policy.yaml"), []byte(auditPolicy), 0o600)
}

// AuditEvents reads every event of the audit log so far, in the order the
// apiserver wrote them. Events of requests still being served may be missing;
// call AuditSync first to include everything received before that call.
func (cp *ControlPlane) AuditEvents() ([]AuditEvent, error) {
	f, err := os.Open(cp.AuditLogPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AuditEvent
	rd := bufio.NewReaderSize(f, 256<<10)
	for {
		line, err := rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 && (err == nil || errors.Is(err, io.EOF) && json.Valid(line)) {
			var r auditRecord
			if jerr := json.Unmarshal(line, &r); jerr != nil {
				return nil, fmt.Errorf("k8stest: audit log %s: %w", cp.AuditLogPath(), jerr)
			}
			ev := AuditEvent{
				AuditID: r.AuditID, Stage: r.Stage, Verb: r.Verb, RequestURI: r.RequestURI,
				User: r.User.Username, UserAgent: r.UserAgent, Received: r.RequestReceivedTimestamp,
			}
			if r.ResponseStatus != nil {
				ev.Code = r.ResponseStatus.Code
			}
			out = append(out, ev)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// RequestsBy counts the requests user has made to the apiserver so far (one
// per RequestReceived event, whatever the outcome, denials included). Compare
// two counts with AuditSync before each to prove that an identity made no
// request in between.
func (cp *ControlPlane) RequestsBy(user string) (int, error) {
	events, err := cp.AuditEvents()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range events {
		if ev.Stage == StageRequestReceived && ev.User == user {
			n++
		}
	}
	return n, nil
}

// AuditSync returns once the audit log holds the events of every request the
// apiserver received before the call: it sends a uniquely named request as the
// cluster-admin and waits until that request's ResponseComplete event is
// written (the apiserver writes events in blocking mode as they happen).
func (cp *ControlPlane) AuditSync(ctx context.Context) error {
	marker := "kubently-audit-sync-" + strings.ToLower(rand.Text()[:12])
	cfg := rest.CopyConfig(cp.adminConfig)
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	uri := "/api/v1/namespaces/" + marker
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cp.url+uri, nil)
	if err != nil {
		return err
	}
	res, err := rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("k8stest: audit sync request: %w", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		events, err := cp.AuditEvents()
		if err != nil {
			return err
		}
		for _, ev := range events {
			if ev.Stage == StageResponseComplete && ev.RequestURI == uri {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("k8stest: audit sync: the marker request never reached %s: %w", cp.AuditLogPath(), ctx.Err())
		case <-tick.C:
		}
	}
}
