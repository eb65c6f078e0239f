package a2a

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2asrv"

	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/httpapi"
	"github.com/kubently/kubently/internal/store"
)

// Artifact names and metadata keys of the events Kubently streams.
const (
	artifactAnswer     = "answer"
	artifactToolCall   = "tool_call"
	artifactToolResult = "tool_result"
	metaType           = "type"
	metaClusterID      = "cluster_id"
	metaThreadID       = "thread_id"
)

// Reasons an investigation's context ends early.
var (
	errCanceledByClient = errors.New("canceled by the client")
	errTimedOut         = errors.New("investigation time limit reached")
	errConsumerGone     = errors.New("the A2A event consumer stopped")
)

// executor adapts the agent's Investigate stream to the SDK's AgentExecutor:
// a submitted task, a working status, one artifact per tool call and tool
// result, the answer as an artifact streamed in appended chunks, and a
// terminal status (completed, failed or canceled).
type executor struct {
	inv            agent.Investigator
	tasks          *taskStore
	notifier       store.Notifier
	defaultTimeout time.Duration
	log            *slog.Logger
}

var (
	_ a2asrv.AgentExecutor         = (*executor)(nil)
	_ a2asrv.AgentExecutionCleaner = (*executor)(nil)
)

func newExecutor(inv agent.Investigator, tasks *taskStore, n store.Notifier, def time.Duration, log *slog.Logger) *executor {
	return &executor{inv: inv, tasks: tasks, notifier: n, defaultTimeout: def, log: log}
}

// cancelTopic is the notifier topic that tells the replica running a task
// that it was canceled elsewhere.
func cancelTopic(id sdk.TaskID) string { return "a2a-cancel:" + string(id) }

// question extracts the query from a message: its text parts, joined.
func question(m *sdk.Message) string {
	if m == nil {
		return ""
	}
	var parts []string
	for _, p := range m.Parts {
		if p == nil {
			continue
		}
		if t := strings.TrimSpace(p.Text()); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n")
}

// metaString returns the first non-empty string value of key in ms.
func metaString(key string, ms ...map[string]any) string {
	for _, m := range ms {
		if s, ok := m[key].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// jsonMap normalizes a value into plain JSON types (map[string]any, []any,
// float64, ...), which is what A2A metadata may carry.
func jsonMap(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

func agentMessage(info sdk.TaskInfoProvider, text string) *sdk.Message {
	return sdk.NewMessageForTask(sdk.MessageRoleAgent, info, sdk.NewTextPart(text))
}

// Execute implements a2asrv.AgentExecutor.
func (x *executor) Execute(ctx context.Context, ec *a2asrv.ExecutorContext) iter.Seq2[sdk.Event, error] {
	return func(yield func(sdk.Event, error) bool) {
		p := auth.FromContext(ctx)
		if p == nil {
			yield(nil, sdk.ErrUnauthenticated)
			return
		}
		query := question(ec.Message)
		if query == "" {
			yield(nil, sdk.NewError(sdk.ErrInvalidParams, "the message has no text: send the question as a text part"))
			return
		}
		timeout, perr := parseTimeout(serviceParam(ec, HeaderRequestTimeout), x.defaultTimeout)
		if perr != nil {
			yield(nil, asRPCError(perr))
			return
		}
		identity, perr := parseServiceIdentity(serviceParam(ec, HeaderServiceIdentity))
		if perr != nil {
			yield(nil, asRPCError(perr))
			return
		}
		var msgMeta map[string]any
		if ec.Message != nil {
			msgMeta = ec.Message.Metadata
		}
		req := agent.Request{
			Principal:       p,
			Query:           query,
			ClusterID:       metaString(metaClusterID, msgMeta, ec.Metadata),
			ThreadID:        ec.ContextID,
			CorrelationID:   httpapi.CorrelationID(ctx),
			ServiceIdentity: identity,
			Source:          "a2a-rpc",
		}
		if ec.StoredTask == nil {
			if !yield(sdk.NewSubmittedTask(ec, ec.Message), nil) {
				return
			}
		}
		if !yield(sdk.NewStatusUpdateEvent(ec, sdk.TaskStateWorking, nil), nil) {
			return
		}
		x.run(ctx, ec, req, timeout, yield)
	}
}

func serviceParam(ec *a2asrv.ExecutorContext, key string) string {
	if ec.ServiceParams == nil {
		return ""
	}
	v, _ := ec.ServiceParams.Get(key)
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// outcome is how an investigation ended.
type outcome struct {
	answer string
	err    error
	last   *agent.Event // the done or error event (a bare error if none came)
}

// run investigates and translates the agent's events as they come.
func (x *executor) run(ctx context.Context, ec *a2asrv.ExecutorContext, req agent.Request, timeout time.Duration, yield func(sdk.Event, error) bool) {
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ictx, stop := context.WithTimeoutCause(ictx, timeout, errTimedOut)
	defer stop()
	go x.watchRemoteCancel(ctx, ictx, ec.TaskID, cancel)

	events := make(chan agent.Event, 16)
	result := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				x.log.Error("panic in investigation", "task_id", ec.TaskID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				o.err = fmt.Errorf("the investigation failed unexpectedly")
			}
			close(events)
			result <- o
		}()
		o.answer, o.err = x.inv.Investigate(ictx, req, func(ev agent.Event) { events <- ev })
	}()

	stream := &translator{info: ec}
	defer func() {
		// Keep draining so an investigator still emitting never blocks.
		go func() {
			for range events {
			}
		}()
	}()
	var last *agent.Event
	done := ictx.Done()
	var grace <-chan time.Time
	for last == nil {
		select {
		case ev, ok := <-events:
			if !ok {
				last = &agent.Event{Type: agent.EventError}
				break
			}
			if ev.Type == agent.EventDone || ev.Type == agent.EventError {
				last = &ev
				break
			}
			for _, out := range stream.translate(ev) {
				if !yield(out, nil) {
					// The task ended (canceled) or its consumer went away.
					cancel(errConsumerGone)
					return
				}
			}
		case <-done:
			done, grace = nil, time.After(afterCancelGrace)
		case <-grace:
			x.log.Warn("investigation ignored its cancellation", "task_id", ec.TaskID)
			last = &agent.Event{Type: agent.EventError}
		}
	}
	var o outcome
	select {
	case o = <-result:
	case <-time.After(afterCancelGrace):
		x.log.Warn("investigation did not return after its final event", "task_id", ec.TaskID)
		o = outcome{answer: stream.answer.String(), err: errors.New("the investigation did not return")}
		if last.Type == agent.EventDone {
			o.err = nil
		}
	}
	o.last = last
	for _, out := range stream.finish(ictx, o, timeout) {
		if !yield(out, nil) {
			return
		}
	}
}

// watchRemoteCancel cancels the local investigation when another replica
// reports (through the notifier) that it canceled the task in the store.
func (x *executor) watchRemoteCancel(ctx, ictx context.Context, id sdk.TaskID, cancel context.CancelCauseFunc) {
	ch, unsubscribe := x.notifier.Subscribe(ictx, cancelTopic(id))
	defer unsubscribe()
	for {
		select {
		case <-ictx.Done():
			return
		case <-ch:
			t, err := x.tasks.Get(ctx, id)
			if err == nil && t.Task.Status.State == sdk.TaskStateCanceled {
				cancel(errCanceledByClient)
				return
			}
		}
	}
}

// translator turns agent events into A2A events for one task.
type translator struct {
	info     sdk.TaskInfoProvider
	answerID sdk.ArtifactID
	answer   strings.Builder // every content chunk, in order
	calls    int
	results  int
}

func (t *translator) artifact(name, id string, parts []*sdk.Part, meta map[string]any) *sdk.TaskArtifactUpdateEvent {
	info := t.info.TaskInfo()
	return &sdk.TaskArtifactUpdateEvent{
		TaskID: info.TaskID, ContextID: info.ContextID, LastChunk: true,
		Artifact: &sdk.Artifact{ID: sdk.ArtifactID(id), Name: name, Parts: parts, Metadata: meta},
		Metadata: meta,
	}
}

func (t *translator) translate(ev agent.Event) []sdk.Event {
	ts := ev.Timestamp
	if ts.IsZero() {
		ts = time.Now().UTC()
	}
	switch ev.Type {
	case agent.EventToolCall:
		t.calls++
		meta := jsonMap(map[string]any{
			metaType: agent.EventToolCall, "tool": ev.Tool, "call_id": ev.CallID,
			"parameters": jsonMap(ev.Parameters), "timestamp": ts.Format(time.RFC3339Nano),
		})
		data := sdk.NewDataPart(map[string]any{"tool": ev.Tool, "parameters": meta["parameters"]})
		return []sdk.Event{t.artifact(artifactToolCall, fmt.Sprintf("tool-call-%d", t.calls), []*sdk.Part{data}, meta)}
	case agent.EventToolResult:
		t.results++
		meta := jsonMap(map[string]any{
			metaType: agent.EventToolResult, "tool": ev.Tool, "call_id": ev.CallID,
			"status": ev.Status, "summary": ev.Summary, "timestamp": ts.Format(time.RFC3339Nano),
		})
		data := sdk.NewDataPart(map[string]any{"tool": ev.Tool, "status": ev.Status, "summary": ev.Summary})
		return []sdk.Event{t.artifact(artifactToolResult, fmt.Sprintf("tool-result-%d", t.results), []*sdk.Part{data}, meta)}
	case agent.EventContent:
		if ev.Content == "" {
			return nil
		}
		t.answer.WriteString(ev.Content)
		info := t.info.TaskInfo()
		e := &sdk.TaskArtifactUpdateEvent{TaskID: info.TaskID, ContextID: info.ContextID, Metadata: map[string]any{metaType: agent.EventContent}}
		if t.answerID == "" {
			t.answerID = "answer"
			e.Artifact = &sdk.Artifact{ID: t.answerID, Name: artifactAnswer, Parts: []*sdk.Part{sdk.NewTextPart(ev.Content)}}
		} else {
			e.Append = true
			e.Artifact = &sdk.Artifact{ID: t.answerID, Parts: []*sdk.Part{sdk.NewTextPart(ev.Content)}}
		}
		return []sdk.Event{e}
	}
	return nil
}

// finish produces the terminal events: the answer's last chunk and the final
// status, completed, failed or canceled.
func (t *translator) finish(ictx context.Context, o outcome, timeout time.Duration) []sdk.Event {
	var out []sdk.Event
	if t.answerID != "" {
		info := t.info.TaskInfo()
		out = append(out, &sdk.TaskArtifactUpdateEvent{
			TaskID: info.TaskID, ContextID: info.ContextID, Append: true, LastChunk: true,
			Artifact: &sdk.Artifact{ID: t.answerID, Parts: []*sdk.Part{sdk.NewTextPart("")}},
			Metadata: map[string]any{metaType: agent.EventContent},
		})
	}
	cause := context.Cause(ictx)
	if o.last != nil && o.last.Type == agent.EventDone && o.err == nil {
		text := o.answer
		if strings.TrimSpace(text) == "" {
			text = t.answer.String()
		}
		if strings.TrimSpace(text) == "" {
			text = "The investigation finished without a written answer."
		}
		ev := sdk.NewStatusUpdateEvent(t.info, sdk.TaskStateCompleted, agentMessage(t.info, text))
		if o.last.ThreadID != "" {
			ev.Metadata = map[string]any{metaThreadID: o.last.ThreadID}
		}
		return append(out, ev)
	}
	if errors.Is(cause, errCanceledByClient) {
		return append(out, sdk.NewStatusUpdateEvent(t.info, sdk.TaskStateCanceled, agentMessage(t.info, "The investigation was canceled.")))
	}
	msg := "the investigation ended without a result"
	switch {
	case errors.Is(cause, errTimedOut):
		msg = describeTimeout(timeout)
	case o.last != nil && o.last.Message != "":
		msg = o.last.Message
	case o.err != nil:
		msg = o.err.Error()
	}
	ev := sdk.NewStatusUpdateEvent(t.info, sdk.TaskStateFailed, agentMessage(t.info, msg))
	ev.Metadata = map[string]any{"error": msg}
	return append(out, ev)
}

// Cancel implements a2asrv.AgentExecutor by emitting the canceled state.
// When the task runs in this process the SDK feeds that event to the running
// execution, which ends it and cancels the producer's context, and so the
// investigation's. When it runs on another replica the event is stored and
// Cleanup wakes that replica (watchRemoteCancel).
func (x *executor) Cancel(ctx context.Context, ec *a2asrv.ExecutorContext) iter.Seq2[sdk.Event, error] {
	return func(yield func(sdk.Event, error) bool) {
		yield(sdk.NewStatusUpdateEvent(ec, sdk.TaskStateCanceled, agentMessage(ec, "The investigation was canceled.")), nil)
	}
}

// Cleanup implements a2asrv.AgentExecutionCleaner. After a cancelation is
// stored it publishes a wake-up so a replica running the task stops it.
func (x *executor) Cleanup(ctx context.Context, ec *a2asrv.ExecutorContext, result sdk.SendMessageResult, err error) {
	if ec.Message != nil || err != nil {
		return
	}
	if t, ok := result.(*sdk.Task); ok && t.Status.State == sdk.TaskStateCanceled {
		if perr := x.notifier.Publish(context.WithoutCancel(ctx), cancelTopic(ec.TaskID)); perr != nil {
			x.log.Warn("could not announce an A2A task cancelation", "task_id", ec.TaskID, "err", perr)
		}
	}
}
