package a2a_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"

	"github.com/kubently/kubently/internal/testkit"
)

// jsLine is one line printed by test/npm/a2a-stream.mjs.
type jsLine struct {
	Kind            string         `json:"kind"`
	Message         string         `json:"message"`
	Name            string         `json:"name"`
	Streaming       bool           `json:"streaming"`
	Interfaces      []jsInterface  `json:"interfaces"`
	Schemes         []string       `json:"schemes"`
	Skills          []string       `json:"skills"`
	ProtocolVersion string         `json:"protocolVersion"`
	TaskID          string         `json:"taskId"`
	State           string         `json:"state"`
	Text            string         `json:"text"`
	Metadata        map[string]any `json:"metadata"`
	ArtifactID      string         `json:"artifactId"`
	Append          bool           `json:"append"`
	LastChunk       bool           `json:"lastChunk"`
}

type jsInterface struct {
	URL, Binding, Version string
}

// The official A2A JavaScript client (@a2a-js/sdk, pinned in
// test/npm/package.json) resolves the card and streams a message through
// both the 1.0 and the 0.3 wire formats; it sees the tool call as typed
// metadata, the answer incrementally and the completed state.
func TestThirdPartyJSClient(t *testing.T) {
	npmDir, node := testkit.NPMDir(t, "@a2a-js/sdk")
	for _, proto := range []string{"1.0", "0.3"} {
		t.Run(proto, func(t *testing.T) {
			e := newEnv(t)
			gate := "js" + proto
			release := e.inv.gate(gate)
			defer release()
			ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "a2a-stream.mjs", "--url", e.url, "--key", aliceKey,
				"--query", "gate:"+gate+" why is checkout crashlooping?", "--protocol", proto, "--cluster", "prod")
			cmd.Dir = npmDir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var lines []jsLine
			var raw []string
			sawPart1Early := false
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
			for sc.Scan() {
				raw = append(raw, sc.Text())
				var l jsLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("not a JSON line: %s", sc.Text())
				}
				lines = append(lines, l)
				if l.Kind == "artifact" && l.Metadata["type"] == "content" && l.Text == "part 1 " && !sawPart1Early {
					// The investigation is still blocked on the gate: the
					// client got part 1 while the agent was working.
					sawPart1Early = true
					release()
				}
			}
			werr := cmd.Wait()
			if werr != nil {
				t.Fatalf("node: %v\nstdout:\n%s\nstderr:\n%s", werr, bytes.Join(toBytes(raw), []byte("\n")), stderr.String())
			}
			if !sawPart1Early {
				t.Fatalf("the client never saw the first content chunk on its own:\n%s", bytes.Join(toBytes(raw), []byte("\n")))
			}
			checkJSLines(t, e.url, proto, lines)
		})
	}
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func checkJSLines(t *testing.T, url, proto string, lines []jsLine) {
	t.Helper()
	byKind := map[string][]jsLine{}
	for _, l := range lines {
		byKind[l.Kind] = append(byKind[l.Kind], l)
	}
	if len(byKind["error"]) > 0 {
		t.Fatalf("client error: %s", byKind["error"][0].Message)
	}
	card := byKind["card"]
	if len(card) != 1 || card[0].Name != "Kubently" || !card[0].Streaming || len(card[0].Interfaces) != 1 ||
		card[0].Interfaces[0] != (jsInterface{URL: url + "/a2a", Binding: "JSONRPC", Version: "1.0"}) ||
		!slices.Equal(card[0].Schemes, []string{"apiKey", "bearer"}) || !slices.Contains(card[0].Skills, "diagnose") {
		t.Fatalf("card as the JS client read it: %+v", card)
	}
	if c := byKind["client"]; len(c) != 1 || c[0].ProtocolVersion != proto {
		t.Fatalf("client protocol %+v, want %s", c, proto)
	}
	if tasks := byKind["task"]; len(tasks) != 1 || tasks[0].State != "TASK_STATE_SUBMITTED" || tasks[0].TaskID == "" {
		t.Fatalf("task events %+v", tasks)
	}
	var calls, content []jsLine
	for _, a := range byKind["artifact"] {
		switch a.Metadata["type"] {
		case "tool_call":
			calls = append(calls, a)
		case "content":
			content = append(content, a)
		}
	}
	if len(calls) != 1 || calls[0].Metadata["tool"] != "execute_kubectl" {
		t.Fatalf("tool call events %+v", calls)
	}
	params, _ := calls[0].Metadata["parameters"].(map[string]any)
	if params["command"] != "get pods -A" || params["cluster_id"] != "prod" {
		t.Fatalf("tool call parameters %+v", calls[0].Metadata)
	}
	var answer string
	for i, c := range content {
		if i > 0 && !c.Append {
			t.Fatalf("content chunk %d does not append: %+v", i, c)
		}
		answer += c.Text
	}
	if len(content) < 3 || answer != "part 1 part 2" || !content[len(content)-1].LastChunk {
		t.Fatalf("content chunks %+v", content)
	}
	status := byKind["status"]
	if len(status) < 2 || status[0].State != "TASK_STATE_WORKING" {
		t.Fatalf("status events %+v", status)
	}
	final := status[len(status)-1]
	if final.State != "TASK_STATE_COMPLETED" || final.Text != "part 1 part 2" {
		t.Fatalf("final status %+v", final)
	}
	if lines[len(lines)-1].Kind != "end" {
		t.Fatalf("the stream did not end cleanly: %+v", lines[len(lines)-1])
	}
}
