package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goBench runs the Go benchmarks and notes where their output went.
type goBench struct{ *bench }

// goBenchmarks runs the Go benchmarks of the hot path package by package and adds one row per benchmark. A
// package whose benchmarks fail to build or run gets a row saying so; the run goes on.
func (b goBench) goBenchmarks(ctx context.Context, logf func(string, ...any)) error {
	var all strings.Builder
	for _, pkg := range strings.Fields(b.opts.goBenchPkgs) {
		args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", b.opts.benchtime, "-count", "1", pkg}
		command := "go test -run '^$' -bench . -benchmem -benchtime " + b.opts.benchtime + " " + pkg
		logf("running %s", command)
		cctx, cancel := context.WithTimeout(ctx, b.opts.timeout)
		cmd := exec.CommandContext(cctx, "go", args...)
		cmd.Dir = b.root
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		fmt.Fprintf(&all, "$ %s\n%s\n", command, out)
		results := parseGoBench(string(out))
		for _, r := range results {
			b.table.info("Go benchmark "+r.name, r.value, command)
		}
		if err != nil {
			b.table.info("Go benchmarks of "+pkg, "failed: "+firstLine(string(out), err), command)
		} else if len(results) == 0 {
			b.table.info("Go benchmarks of "+pkg, "none in the package", command)
		}
	}
	path := filepath.Join(b.dir, "gobench.txt")
	if err := os.WriteFile(path, []byte(all.String()), 0o644); err != nil {
		return fmt.Errorf("saving the Go benchmark output: %w", err)
	}
	b.notes = append(b.notes, "Go benchmark output: "+b.rel(path))
	return nil
}

// goBenchResult is one benchmark line: its name (package-qualified) and its measures.
type goBenchResult struct {
	name  string
	value string
}

// parseGoBench reads `go test -bench` output: "pkg: ..." lines name the package, benchmark lines are
// "BenchmarkX-2  N  v1 unit1  v2 unit2 ...". The value keeps every measure but the iteration count.
func parseGoBench(out string) []goBenchResult {
	var res []goBenchResult
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p[strings.LastIndex(p, "/")+1:]
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		var measures []string
		for i := 2; i+1 < len(f); i += 2 {
			measures = append(measures, f[i]+" "+f[i+1])
		}
		name := f[0]
		if pkg != "" {
			name = pkg + "." + name
		}
		res = append(res, goBenchResult{name: name, value: strings.Join(measures, ", ")})
	}
	return res
}

// firstLine picks the most telling line of a failed go test: the first FAIL or error line, else the error.
func firstLine(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "FAIL") || strings.Contains(l, "error") || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "---") {
			return l
		}
	}
	return err.Error()
}
