// Package sse reads Server-Sent Events streams (the text/event-stream format):
// the executor uses it for its command stream, and tests and clients use it
// for the A2A streams. Writing events is a few lines in each server and lives
// there.
package sse

import (
	"bufio"
	"io"
	"strings"
)

// Event is one dispatched event.
type Event struct {
	Name string // the "event:" field; "message" when absent
	Data string // the "data:" lines joined with "\n"
	ID   string
}

// Reader parses events from a stream.
type Reader struct {
	sc *bufio.Scanner
}

// MaxEventBytes bounds one line of the stream (a command's data line).
const MaxEventBytes = 16 << 20

// NewReader returns a reader over r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxEventBytes)
	return &Reader{sc: sc}
}

// Next returns the next event. Comment lines (keepalives starting with ':')
// are reported as an Event with Name ":" so callers can reset idle timers.
// It returns io.EOF at the end of the stream.
func (r *Reader) Next() (Event, error) {
	var ev Event
	var data []string
	seen := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if !seen {
				continue
			}
			ev.Data = strings.Join(data, "\n")
			if ev.Name == "" {
				ev.Name = "message"
			}
			return ev, nil
		}
		if strings.HasPrefix(line, ":") {
			if !seen {
				return Event{Name: ":"}, nil
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		seen = true
		switch field {
		case "event":
			ev.Name = value
		case "data":
			data = append(data, value)
		case "id":
			ev.ID = value
		}
	}
	if err := r.sc.Err(); err != nil {
		return Event{}, err
	}
	return Event{}, io.EOF
}
