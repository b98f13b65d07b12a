package e2e

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestPrometheusEndToEnd: a running pipeline's /metrics, scraped over
// loopback from Benthos' HTTP server, shows the input's metrics and Benthos'
// own, with Benthos' names and labels; both when the config has no metrics
// section (prometheus is the default) and with `metrics: prometheus: {}`.
func TestPrometheusEndToEnd(t *testing.T) {
	tests := []struct {
		name    string
		metrics map[string]any // nil: no metrics section
	}{
		{name: "the default with no metrics section"},
		{name: "metrics prometheus", metrics: map[string]any{"prometheus": map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, harness.EmulatorConfig{})
			const channel = "/event/Metrics__e"
			ids, err := e.emu.PublishIDs(e.ctx, channel, 12, 1)
			require.NoError(t, err)

			addr, err := harness.FreeAddr()
			require.NoError(t, err)
			outPath := e.path("out.jsonl")
			in := e.input(inputOpts{channels: []string{channel}, preset: "earliest", key: "metrics"})
			in["label"] = "sf"
			out := fileOutput(outPath)
			out["label"] = "sink"
			conf := recordPipeline(in, out, map[string]any{"http": map[string]any{"enabled": true, "address": addr}})
			if tt.metrics != nil {
				conf["metrics"] = tt.metrics
			}
			proc := e.startBenthos("metrics", conf, e.fileCache())
			waitComplete(e.ctx, t, harness.Published{channel: ids}, nil, outPath, proc)

			n := float64(len(ids))
			want := []struct {
				name   string
				labels map[string]string
			}{
				{"salesforce_streaming_events_received", map[string]string{"channel": channel, "label": "sf", "path": "root.input"}},
				{"input_received", map[string]string{"label": "sf", "path": "root.input"}},
				{"output_sent", map[string]string{"label": "sink", "path": "root.output"}},
			}
			// Bounded wait: output_sent counts after the write the test
			// already saw, so allow the counter a moment to catch up.
			var samples map[string][]sample
			deadline := time.Now().Add(20 * time.Second)
			for {
				samples = scrapeMetrics(t, e.ctx, "http://"+addr+"/metrics")
				all := true
				for _, w := range want {
					all = all && value(samples, w.name, w.labels) >= n
				}
				if all || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			for _, w := range want {
				assert.GreaterOrEqual(t, value(samples, w.name, w.labels), n, "%s%v", w.name, w.labels)
			}
			_, ok := samples["salesforce_streaming_checkpoint_lag"]
			assert.True(t, ok, "the input's gauge is exported")
			_, ok = samples["output_latency_ns_count"]
			assert.True(t, ok, "Benthos' timers are exported (summaries)")
			e.stop(proc)
		})
	}
}

// sample is one line of the text exposition format.
type sample struct {
	labels map[string]string
	value  float64
}

// scrapeMetrics GETs url and parses the text format by name.
func scrapeMetrics(t *testing.T, ctx context.Context, url string) map[string][]sample {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", url)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string][]sample{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, s, err := parseSample(line)
		require.NoError(t, err, "line %q", line)
		out[name] = append(out[name], s)
	}
	return out
}

// parseSample parses `name{k="v",...} value` (label values as Benthos and
// Salesforce channels write them: no escaped quotes or commas).
func parseSample(line string) (string, sample, error) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", sample{}, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	if err != nil {
		return "", sample{}, err
	}
	head := line[:i]
	s := sample{labels: map[string]string{}, value: v}
	name, rest, hasLabels := strings.Cut(head, "{")
	if hasLabels {
		for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			if kv == "" {
				continue
			}
			k, val, _ := strings.Cut(kv, "=")
			s.labels[k] = strings.Trim(val, `"`)
		}
	}
	return name, s, nil
}

// value is the value of the sample of name with exactly these labels, or -1.
func value(samples map[string][]sample, name string, labels map[string]string) float64 {
	for _, s := range samples[name] {
		if len(s.labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && s.labels[k] == v
		}
		if match {
			return s.value
		}
	}
	return -1
}

// TestListMetrics: `benthos list metrics` shows prometheus, and a config
// naming it lints.
func TestListMetrics(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	dir := t.TempDir()
	res := runBenthos(t, dir, nil, "list", "metrics")
	require.Equal(t, 0, res.ExitCode, "%s", res)
	assert.Regexp(t, `(?m)^\s*-\s*prometheus\s*$`, res.Stdout)

	conf := filepath.Join(dir, "metrics.yaml")
	require.NoError(t, os.WriteFile(conf, []byte("metrics:\n  prometheus:\n    use_histogram_timing: true\n    add_go_metrics: true\n"), 0o644))
	res = runBenthos(t, dir, nil, "lint", conf)
	assert.Equal(t, 0, res.ExitCode, "%s", res)
}

// TestVersion: `bin/benthos --version` prints a semantic version:
// v0.x.y[-n-gcommit] from a tag, or v0.0.0-<commit>, [-dirty].
func TestVersion(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	res := runBenthos(t, t.TempDir(), nil, "--version")
	require.Equal(t, 0, res.ExitCode, "%s", res)
	assert.Regexp(t, `(?m)^Version: v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`, res.Stdout)
}

// TestBinariesAreStatic: no ELF interpreter and no shared library, so the
// binaries run on distroless/static (the Dockerfile's runtime) and any Linux.
func TestBinariesAreStatic(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	for _, name := range []string{harness.BenthosBinary, harness.EmulatorBinary} {
		path, err := harness.Binary(name)
		require.NoError(t, err)
		f, err := elf.Open(path)
		require.NoError(t, err, name)
		for _, p := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s has an ELF interpreter: dynamically linked", name)
		}
		libs, err := f.ImportedLibraries()
		require.NoError(t, err, name)
		assert.Empty(t, libs, "%s needs shared libraries", name)
		require.NoError(t, f.Close())
	}
}

// TestEchoHidesComponentSecrets: `benthos echo` scrubs the passwords of our
// redis cache and prometheus exporter.
func TestEchoHidesComponentSecrets(t *testing.T) {
	requireBinaries(t)
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "secrets.yaml")
	require.NoError(t, os.WriteFile(conf, []byte(`
metrics:
  prometheus:
    push_url: http://pushuser:urlpass1@127.0.0.1:9091
    push_basic_auth:
      username: u
      password: basicpass2
cache_resources:
  - label: replay_ids
    redis:
      url: redis://user:redispass3@127.0.0.1:6379
`), 0o644))
	res := runBenthos(t, dir, nil, "echo", conf)
	require.Equal(t, 0, res.ExitCode, "%s", res)
	require.Contains(t, res.Stdout, "push_basic_auth", "echo printed the config")
	for _, secret := range []string{"urlpass1", "basicpass2", "redispass3"} {
		assert.NotContains(t, res.Stdout+res.Stderr, secret)
	}
}
