// Command testsummary reads `go test -json` output on stdin, prints the
// output of failed and skipped tests and a one-line summary, and exits
// non-zero when any test failed or — because CI must never pass silently —
// when any test was skipped.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	outputs := map[string]*strings.Builder{}
	var failed, skipped []string
	passed := 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if json.Unmarshal(line, &ev) != nil {
			fmt.Println(string(line)) // build errors and other plain output
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			if b.Len() < 256<<10 {
				b.WriteString(ev.Output)
			}
		case "pass":
			if ev.Test != "" {
				passed++
			} else {
				fmt.Printf("ok   %s (%.1fs)\n", ev.Package, ev.Elapsed)
			}
			delete(outputs, key)
		case "fail":
			failed = append(failed, key)
			if ev.Test == "" {
				fmt.Printf("FAIL %s (%.1fs)\n", ev.Package, ev.Elapsed)
			}
		case "skip":
			if ev.Test != "" {
				skipped = append(skipped, key)
			}
		}
	}
	sort.Strings(failed)
	for _, k := range append(failed, skipped...) {
		if b := outputs[k]; b != nil {
			fmt.Printf("\n=== %s\n%s", k, b.String())
		}
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", passed, len(failed), len(skipped))
	if len(skipped) > 0 {
		fmt.Println("skipped tests (CI treats a skip as a failure):")
		for _, k := range skipped {
			fmt.Println("  " + k)
		}
	}
	if len(failed) > 0 || len(skipped) > 0 {
		os.Exit(1)
	}
}
