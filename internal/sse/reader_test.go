package sse

import (
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	in := ": keepalive\n\nevent: command\ndata: {\"a\":1}\nid: 7\n\ndata: line1\ndata: line2\n\nevent: ping\ndata:{}\n\n"
	r := NewReader(strings.NewReader(in))
	want := []Event{{Name: ":"}, {Name: "command", Data: `{"a":1}`, ID: "7"}, {Name: "message", Data: "line1\nline2"}, {Name: "ping", Data: "{}"}}
	for i, w := range want {
		got, err := r.Next()
		if err != nil || got != w {
			t.Fatalf("event %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v, want EOF", err)
	}
}

func TestReaderTruncatedEventIsNotDispatched(t *testing.T) {
	r := NewReader(strings.NewReader("event: command\ndata: {\"partial\""))
	if ev, err := r.Next(); err != io.EOF {
		t.Fatalf("got %+v, %v; want EOF for an event without its blank line", ev, err)
	}
}
