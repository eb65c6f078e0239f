package a2a_test

import (
	"encoding/json"
	"testing"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"

	"github.com/kubently/kubently/internal/redistest"
)

// Two API replicas on one Redis share A2A tasks: a task created on one is
// read on the other, and a CancelTask received by the other stops the
// investigation running on the first.
func TestReplicasShareTasksOnRedis(t *testing.T) {
	rs := redistest.Start(t)
	a := startEnv(t, envOptions{redisURL: rs.URL(), prefix: "a2a-replicas:"})
	b := startEnv(t, envOptions{redisURL: rs.URL(), prefix: "a2a-replicas:"})

	f := a.rpcCall(aliceKey, "1.0", "SendMessage", map[string]any{"message": message("on replica a", nil)})
	var res struct {
		Task sdk.Task `json:"task"`
	}
	if f.Error != nil || json.Unmarshal(f.Result, &res) != nil {
		t.Fatalf("SendMessage on a: %+v %s", f.Error, f.Result)
	}
	f = b.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": string(res.Task.ID)})
	var got sdk.Task
	if f.Error != nil || json.Unmarshal(f.Result, &got) != nil || got.Status.State != sdk.TaskStateCompleted {
		t.Fatalf("GetTask on b: %+v %s", f.Error, f.Result)
	}
	if f := b.rpcCall(bobKey, "1.0", "GetTask", map[string]any{"id": string(res.Task.ID)}); f.Error == nil || f.Error.Code != -32001 {
		t.Fatalf("bob on b: %+v %s", f.Error, f.Result)
	}
	a.inv.next(t)

	s := a.sendStreaming(aliceKey, "hang on replica a", nil)
	task := v1Event(t, mustNext(t, s)).(*sdk.Task)
	run := a.inv.next(t)
	if f := b.rpcCall(aliceKey, "1.0", "CancelTask", map[string]any{"id": string(task.ID)}); f.Error != nil {
		t.Fatalf("CancelTask on b: %+v", f.Error)
	}
	run.waitCanceled(t)
	var last sdk.Event
	for _, d := range s.rest() {
		last = v1Event(t, d)
	}
	// The replica's own canceled status loses the race against the stored
	// cancelation, so the SDK may end the stream with the stored task instead.
	if stateOf(last) != sdk.TaskStateCanceled {
		t.Fatalf("stream on a ended with %+v", last)
	}
	f = a.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": string(task.ID)})
	if json.Unmarshal(f.Result, &got) != nil || got.Status.State != sdk.TaskStateCanceled {
		t.Fatalf("stored after cross-replica cancel: %s", f.Result)
	}
}

// stateOf is the task state an event reports ("" for other events).
func stateOf(ev sdk.Event) sdk.TaskState {
	switch v := ev.(type) {
	case *sdk.Task:
		return v.Status.State
	case *sdk.TaskStatusUpdateEvent:
		return v.Status.State
	}
	return ""
}
