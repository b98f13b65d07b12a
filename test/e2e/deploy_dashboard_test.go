package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The metrics a Grafana dashboard queries, for TestDeploy.

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	promString     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers   = regexp.MustCompile(`\{[^}]*\}`)
	promRange      = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promOffset     = regexp.MustCompile(`\boffset\s+\S+`)
	promNumber     = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])[0-9][0-9a-zA-Z_.]*`)
	promIdentifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	labelValues    = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	promKeywords   = map[string]bool{"bool": true, "and": true, "or": true, "unless": true}
)

// promqlMetrics returns the metric names a PromQL expression selects: what
// is left once strings, label matchers, ranges, groupings, function and
// aggregation names, keywords and numbers are taken out.
func promqlMetrics(expr string) []string {
	expr = promString.ReplaceAllString(expr, " ")
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promRange.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	expr = promOffset.ReplaceAllString(expr, " ")
	expr = promNumber.ReplaceAllString(expr, "$1 ")
	var names []string
	for _, tok := range promIdentifier.FindAllString(expr, -1) {
		if strings.HasSuffix(tok, "(") {
			continue // a function or an aggregation
		}
		tok = strings.TrimSpace(tok)
		if promKeywords[tok] || slices.Contains(names, tok) {
			continue
		}
		names = append(names, tok)
	}
	return names
}

func TestPromqlMetrics(t *testing.T) {
	cases := map[string][]string{
		`sum by (channel) (rate(salesforce_streaming_events_received{job=~"$job"}[$__rate_interval]))`: {"salesforce_streaming_events_received"},
		`max by (instance, channel) (salesforce_streaming_checkpoint_lag)`:                             {"salesforce_streaming_checkpoint_lag"},
		`sum(rate(output_sent[5m])) / sum(rate(input_received{label="x"}[5m])) > bool 0.5`:             {"output_sent", "input_received"},
		`histogram_quantile(0.99, sum without (path) (rate(output_latency_ns_bucket[1m])))`:            {"output_latency_ns_bucket"},
		`time() - foo_seconds offset 5m`: {"foo_seconds"},
	}
	for expr, want := range cases {
		assert.Equal(t, want, promqlMetrics(expr), "%s", expr)
	}
}

// dashboardMetrics returns every metric the dashboards in dir query, with
// the panel (or variable) that names it.
func dashboardMetrics(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "a dashboard in %s", dir)
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d dashboard
		require.NoError(t, json.Unmarshal(b, &d), "%s", f)
		require.NotEmpty(t, d.Panels, "%s has panels", f)
		for _, p := range d.Panels {
			require.NotEmpty(t, p.Targets, "panel %q has queries", p.Title)
			for _, tg := range p.Targets {
				names := promqlMetrics(tg.Expr)
				require.NotEmpty(t, names, "panel %q: the query %q names a metric", p.Title, tg.Expr)
				for _, n := range names {
					out[n] = append(out[n], "panel "+p.Title)
				}
			}
		}
		for _, v := range d.Templating.List {
			if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
				out[m[1]] = append(out[m[1]], "variable "+v.Name)
			}
		}
	}
	return out
}

// exported reports whether the scrape (or what stands for it: samples or
// exporters by name) has the metric: a sample of its name, or of its summary
// or histogram series.
func exported[V any](samples map[string][]V, name string) bool {
	for _, n := range []string{name, name + "_sum", name + "_count", name + "_bucket"} {
		if len(samples[n]) > 0 {
			return true
		}
	}
	return false
}
