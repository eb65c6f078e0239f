package a2a

import (
	"errors"
	"testing"
	"time"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
)

func TestPickBinding(t *testing.T) {
	cases := []struct {
		version, method string
		v1, refused     bool
	}{
		{"1.0", "SendMessage", true, false},
		{"1", "GetTask", true, false},
		{"1.0.2", "GetTask", true, false},
		{"1.0", "message/send", true, false}, // the 1.0 binding reports method not found
		{"0.3", "message/send", false, false},
		{"0.3.0", "tasks/get", false, false},
		{"0.3", "GetTask", false, false}, // the 0.3 binding reports method not found
		{"", "message/stream", false, false},
		{"", "SendStreamingMessage", true, false},
		{"", "", false, false},
		{"2.0", "GetTask", true, true},
		{"0.2", "tasks/get", false, true},
		{"latest", "", false, true},
	}
	for _, c := range cases {
		v1, err := pickBinding(c.version, c.method)
		if v1 != c.v1 || (err != nil) != c.refused {
			t.Errorf("pickBinding(%q, %q) = %v, %v", c.version, c.method, v1, err)
		}
		if err != nil && !errors.Is(err, sdk.ErrVersionNotSupported) {
			t.Errorf("pickBinding(%q): %v is not ErrVersionNotSupported", c.version, err)
		}
	}
}

func TestErrorEvent(t *testing.T) {
	cases := []struct {
		event string
		isErr bool
	}{
		{"id: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32001,\"message\":\"task not found\"}}", true},
		{"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"task\":{}}}", false},
		{"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":null,\"result\":{}}", false},
		{": keep-alive", false},
		{"data: not json", false},
	}
	for _, c := range cases {
		data, ok := errorEvent([]byte(c.event))
		if ok != c.isErr || (ok && len(data) == 0) {
			t.Errorf("errorEvent(%q) = %s, %v", c.event, data, ok)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := cursor{Updated: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC), ID: "0195-abc|def"}
	got, err := decodeCursor(c.encode())
	if err != nil || !got.Updated.Equal(c.Updated) || got.ID != c.ID {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm8tc2VwYXJhdG9y"} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}
