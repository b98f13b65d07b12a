package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestOrgLimitsAndJSONLogs runs bin/benthos with limits_interval: 1s and
// logger.format: json over each API: salesforce_org_limit_remaining for
// DailyDeliveredPlatformEvents appears on /metrics and falls by at least the
// events sfemu delivered, batch after batch; every line the input logs
// carries the api and channel fields.
func TestOrgLimitsAndJSONLogs(t *testing.T) {
	for _, api := range []string{"streaming", "pubsub"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			const channel = "/event/Limits__e"
			var e *env
			var conf map[string]any
			outPath := ""
			o := inputOpts{channels: []string{channel}, preset: "earliest", key: "limits"}
			if api == "pubsub" {
				var addr string
				e, addr = pubsubEnv(t, harness.EmulatorConfig{})
				outPath = e.path("out.jsonl")
				conf = e.pubsubPipeline(addr, o, fileOutput(outPath))
			} else {
				e = newEnv(t, harness.EmulatorConfig{})
				outPath = e.path("out.jsonl")
				conf = recordPipeline(e.input(o), fileOutput(outPath), nil)
			}
			conf["input"].(map[string]any)["salesforce_streaming"].(map[string]any)["limits_interval"] = "1s"
			httpAddr, err := harness.FreeAddr()
			require.NoError(t, err)
			conf["http"] = map[string]any{"enabled": true, "address": httpAddr}
			conf["logger"] = map[string]any{"level": "debug", "format": "json"}
			proc := e.startBenthos("limits", conf, e.fileCache())
			metricsURL := "http://" + httpAddr + "/metrics"

			// The first read comes when the first session is up.
			remaining := func() float64 {
				if !serving(metricsURL) {
					return -1 // Benthos' HTTP server is not up yet
				}
				return limitValue(scrapeMetrics(t, e.ctx, metricsURL), "salesforce_org_limit_remaining", "DailyDeliveredPlatformEvents")
			}
			start := waitGauge(t, func() float64 { return remaining() }, func(v float64) bool { return v >= 0 }, "the gauge appears")
			maxValue := limitValue(scrapeMetrics(t, e.ctx, metricsURL), "salesforce_org_limit_max", "DailyDeliveredPlatformEvents")
			assert.Positive(t, maxValue)
			assert.LessOrEqual(t, start, maxValue)

			published := harness.Published{}
			for round, n := range []int{20, 30} {
				ids, err := e.emu.PublishIDs(e.ctx, channel, n, 1)
				require.NoError(t, err)
				published[channel] = append(published[channel], ids...)
				recs, _ := waitComplete(e.ctx, t, published, nil, outPath, proc)
				delivered := float64(len(recs))
				got := waitGauge(t, remaining, func(v float64) bool { return v <= start-delivered }, "the gauge falls by the deliveries")
				assert.LessOrEqual(t, got, start-delivered, "round %d: %d events delivered so far", round, len(recs))
				t.Logf("round %d: DailyDeliveredPlatformEvents remaining %v of %v after %d deliveries (%v at start)", round, got, maxValue, len(recs), start)
			}
			e.stop(proc)

			var inputLines, aboutChannel int
			for _, line := range strings.Split(proc.Stdout(), "\n") {
				if !strings.HasPrefix(line, "{") {
					continue
				}
				var l map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &l), line)
				msg, _ := l["msg"].(string)
				if l["path"] != "root.input" || isFrameworkLine(msg) {
					continue
				}
				inputLines++
				assert.Equal(t, api, l["api"], line)
				assert.NotEmpty(t, l["channel"], line)
				if l["channel"] == channel {
					aboutChannel++
				}
			}
			assert.Positive(t, inputLines, "the input logged JSON lines:\n%s", proc.Tail(logTailLines))
			assert.Positive(t, aboutChannel, "lines about %s carry it as the channel field", channel)
		})
	}
}

// isFrameworkLine: Benthos' own lines under the input's path (its input
// wrapper's), which cannot carry the input's fields.
func isFrameworkLine(msg string) bool {
	for _, p := range []string{"Input type salesforce_streaming is now active", "Consumed ", "Waiting for pending acks", "Pending acks resolved", "Failed to connect"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// serving reports whether url answers at all.
func serving(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

// limitValue is the value of an org-limit gauge for one limit (whatever
// other labels Benthos adds), or -1.
func limitValue(samples map[string][]sample, name, limit string) float64 {
	for _, s := range samples[name] {
		if s.labels["limit"] == limit {
			return s.value
		}
	}
	return -1
}

// waitGauge polls read until ok holds (bounded) and returns the last value.
func waitGauge(t *testing.T, read func() float64, ok func(float64) bool, what string) float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := read()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			require.Failf(t, "waiting for the org limit gauge", "%s: last value %v", what, v)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
