package main

import (
	"fmt"
	"io"
	"strings"
)

// row is one figure of the results table.
type row struct {
	measure string
	value   string
	target  string // "" when the figure has no target
	met     string // "yes", "no" or "" (no target)
	command string
}

type table struct{ rows []row }

func (t *table) add(r row) { t.rows = append(t.rows, r) }

// check adds a row with a target; ok decides the met column.
func (t *table) check(measure, value, target string, ok bool, command string) {
	met := "no"
	if ok {
		met = "yes"
	}
	t.add(row{measure: measure, value: value, target: target, met: met, command: command})
}

// info adds a row without a target.
func (t *table) info(measure, value, command string) {
	t.add(row{measure: measure, value: value, command: command})
}

func (t *table) write(w io.Writer) {
	fmt.Fprintln(w, "| measure | value | target | met? | command |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range t.rows {
		target, met := r.target, r.met
		if target == "" {
			target, met = "—", "—"
		}
		cmd := ""
		if r.command != "" {
			cmd = "`" + strings.ReplaceAll(r.command, "|", `\|`) + "`"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", cell(r.measure), cell(r.value), cell(target), met, cmd)
	}
}

// cell escapes what would break a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// Number formatting for the table: thousands separators, fixed precision.

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func rate(events int, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(events) / seconds
}

// mb renders bytes in decimal megabytes (10^6), the unit of the targets.
func mb(bytes int64) string { return fmt.Sprintf("%.0f MB", float64(bytes)/1e6) }
