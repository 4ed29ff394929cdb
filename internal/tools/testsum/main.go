// Command testsum reads `go test -json` output on standard input and prints
// a short report: each package's result, the output of failed tests, and
// every skipped test with its reason, so that a run without PostgreSQL or
// Chromium says what it did not test. It exits 1 when anything failed.
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
	output := map[string][]string{}
	var failed, skipped []string
	pkgs := map[string]string{}
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	bad := false
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Build errors and other plain text.
			fmt.Println(string(line))
			bad = true
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			output[key] = append(output[key], e.Output)
		case "fail":
			if e.Test == "" {
				pkgs[e.Package] = fmt.Sprintf("FAIL %s (%.1fs)", e.Package, e.Elapsed)
				order = append(order, e.Package)
			} else {
				failed = append(failed, key)
			}
			bad = true
		case "pass":
			if e.Test == "" {
				pkgs[e.Package] = fmt.Sprintf("ok   %s (%.1fs)", e.Package, e.Elapsed)
				order = append(order, e.Package)
			}
			delete(output, key)
		case "skip":
			if e.Test == "" {
				pkgs[e.Package] = "--   " + e.Package + " (no tests)"
				order = append(order, e.Package)
			} else {
				reason := ""
				for _, o := range output[key] {
					if s := strings.TrimSpace(o); strings.Contains(s, "skip") || strings.Contains(s, "SKIP") {
						reason = s
					}
				}
				skipped = append(skipped, key+"  "+reason)
			}
			delete(output, key)
		}
	}
	sort.Strings(order)
	for _, p := range order {
		fmt.Println(pkgs[p])
	}
	for _, f := range failed {
		fmt.Println("\n--- FAIL:", f)
		fmt.Print(strings.Join(output[f], ""))
	}
	for k, out := range output {
		if strings.HasSuffix(k, " ") && bad {
			// Package-level output of a failed package (panics, build errors).
			if s := strings.Join(out, ""); strings.Contains(s, "FAIL") || strings.Contains(s, "panic") {
				fmt.Println("\n---", k)
				fmt.Print(s)
			}
		}
	}
	if len(skipped) > 0 {
		sort.Strings(skipped)
		fmt.Printf("\nskipped (%d):\n", len(skipped))
		for _, s := range skipped {
			fmt.Println("  " + s)
		}
	}
	if bad {
		fmt.Println("\nFAIL")
		os.Exit(1)
	}
	fmt.Println("\nPASS")
}
