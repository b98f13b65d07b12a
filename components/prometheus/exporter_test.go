package prometheus

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestExporter parses yamlConf with the component's spec and builds an
// exporter, closed at cleanup.
func newTestExporter(t *testing.T, yamlConf string) *exporter {
	t.Helper()
	parsed, err := spec().ParseYAML(yamlConf, nil)
	require.NoError(t, err)
	conf, err := parseConfig(parsed)
	require.NoError(t, err)
	e, err := newExporter(conf, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// gather returns the family called name, failing when it is absent.
func gather(t *testing.T, e *exporter, name string) *dto.MetricFamily {
	t.Helper()
	families, err := e.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f
		}
	}
	require.Failf(t, "metric not exported", "%s not among %d families", name, len(families))
	return nil
}

// labels returns a metric's labels as a map.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// scrape returns what /metrics answers.
func scrape(t *testing.T, e *exporter) string {
	t.Helper()
	rec := httptest.NewRecorder()
	e.HandlerFunc()(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(body)
}

func TestCounterKeepsNameAndLabels(t *testing.T) {
	e := newTestExporter(t, `{}`)
	ctor := e.NewCounterCtor("input_received", "label", "path")
	ctor("sf", "root.input").Incr(3)
	ctor("sf", "root.input").(interface{ IncrFloat64(float64) }).IncrFloat64(0.5)
	ctor("other", "root.input").Incr(1)

	f := gather(t, e, "input_received")
	assert.Equal(t, dto.MetricType_COUNTER, f.GetType())
	values := map[string]float64{}
	for _, m := range f.GetMetric() {
		l := labels(m)
		assert.Equal(t, "root.input", l["path"])
		values[l["label"]] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"sf": 3.5, "other": 1}, values)
	assert.Contains(t, scrape(t, e), `input_received{label="sf",path="root.input"} 3.5`)
}

func TestCounterIgnoresNegativeIncrements(t *testing.T) {
	e := newTestExporter(t, `{}`)
	c := e.NewCounterCtor("output_sent")()
	c.Incr(2)
	assert.NotPanics(t, func() { c.Incr(-1) })
	assert.Equal(t, 2.0, gather(t, e, "output_sent").GetMetric()[0].GetCounter().GetValue())
}

func TestGaugeSetsIntegersAndFloats(t *testing.T) {
	e := newTestExporter(t, `{}`)
	g := e.NewGaugeCtor("salesforce_streaming_checkpoint_lag", "channel")("/event/A__e")
	g.Set(7)
	f := gather(t, e, "salesforce_streaming_checkpoint_lag")
	assert.Equal(t, dto.MetricType_GAUGE, f.GetType())
	assert.Equal(t, 7.0, f.GetMetric()[0].GetGauge().GetValue())

	g.(interface{ SetFloat64(float64) }).SetFloat64(1.25)
	assert.Equal(t, 1.25, gather(t, e, "salesforce_streaming_checkpoint_lag").GetMetric()[0].GetGauge().GetValue())
}

func TestTimers(t *testing.T) {
	tests := []struct {
		name     string
		conf     string
		wantType dto.MetricType
		wantSum  float64 // of two timings, 1.5s and 0.5s, in nanoseconds
	}{
		{name: "summary of nanoseconds by default", conf: `{}`, wantType: dto.MetricType_SUMMARY, wantSum: 2e9},
		{name: "histogram of seconds", conf: `use_histogram_timing: true`, wantType: dto.MetricType_HISTOGRAM, wantSum: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestExporter(t, tt.conf)
			tm := e.NewTimerCtor("output_latency_ns", "label", "path")("out", "root.output")
			tm.Timing(1_500_000_000)
			tm.Timing(500_000_000)
			f := gather(t, e, "output_latency_ns")
			require.Equal(t, tt.wantType, f.GetType())
			m := f.GetMetric()[0]
			assert.Equal(t, map[string]string{"label": "out", "path": "root.output"}, labels(m))
			if tt.wantType == dto.MetricType_SUMMARY {
				assert.Equal(t, uint64(2), m.GetSummary().GetSampleCount())
				assert.InDelta(t, tt.wantSum, m.GetSummary().GetSampleSum(), 1e-6)
				var qs []float64
				for _, q := range m.GetSummary().GetQuantile() {
					qs = append(qs, q.GetQuantile())
				}
				assert.Equal(t, []float64{0.5, 0.9, 0.99}, qs, "Connect's default objectives")
			} else {
				assert.Equal(t, uint64(2), m.GetHistogram().GetSampleCount())
				assert.InDelta(t, tt.wantSum, m.GetHistogram().GetSampleSum(), 1e-9)
			}
		})
	}
}

func TestHistogramBucketsAndObjectivesAreConfigurable(t *testing.T) {
	e := newTestExporter(t, `
use_histogram_timing: true
histogram_buckets: [0.1, 1, 10]
`)
	e.NewTimerCtor("t_ns")().Timing(2_000_000_000)
	var bounds []float64
	var counts []uint64
	for _, b := range gather(t, e, "t_ns").GetMetric()[0].GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		counts = append(counts, b.GetCumulativeCount())
	}
	assert.Equal(t, []float64{0.1, 1, 10}, bounds)
	assert.Equal(t, []uint64{0, 0, 1}, counts)

	e2 := newTestExporter(t, `
summary_quantiles_objectives:
  - quantile: 0.75
    error: 0.01
`)
	e2.NewTimerCtor("t_ns")().Timing(5)
	q := gather(t, e2, "t_ns").GetMetric()[0].GetSummary().GetQuantile()
	require.Len(t, q, 1)
	assert.Equal(t, 0.75, q[0].GetQuantile())
}

func TestQuantileOutOfRangeIsRejected(t *testing.T) {
	parsed, err := spec().ParseYAML(`
summary_quantiles_objectives:
  - quantile: 1.5
    error: 0.01
`, nil)
	require.NoError(t, err)
	_, err = parseConfig(parsed)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "summary_quantiles_objectives[0].quantile")
}

// Benthos asks for one metric name from many components: the same labels in
// another order share the family, and a clash of type or label set is
// dropped instead of failing the pipeline.
func TestSameNameAgain(t *testing.T) {
	e := newTestExporter(t, `{}`)
	e.NewCounterCtor("input_received", "label", "path")("a", "p1").Incr(1)
	e.NewCounterCtor("input_received", "path", "label")("p2", "b").Incr(2)
	e.NewCounterCtor("input_received", "label")("c").Incr(100)                        // other label set: dropped
	e.NewGaugeCtor("input_received", "label", "path")("d", "p4").Set(100)             // other type: dropped
	e.NewTimerCtor("input_received", "label", "path")("e", "p5").Timing(100)          // other type: dropped
	e.NewCounterCtor("input_received", "label", "stream")("f", "s").Incr(100)         // same size, other keys: dropped
	e.NewCounterCtor("input_received", "label", "path")("too", "many", "x").Incr(100) // wrong value count: dropped
	e.NewCounterCtor("input_received", "path", "label")("too few").Incr(100)          // reordered, wrong count: dropped

	got := map[string]float64{}
	for _, m := range gather(t, e, "input_received").GetMetric() {
		l := labels(m)
		got[l["label"]+"@"+l["path"]] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"a@p1": 1, "b@p2": 2}, got)
}

func TestNamesAreSanitized(t *testing.T) {
	tests := []struct{ in, want string }{
		{"input_received", "input_received"},
		{"my.metric-name", "my_metric_name"},
		{"9lives", "_9lives"},
		{"ns:sub", "ns:sub"},
		{"", "_"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, sanitize(tt.in), tt.in)
	}
	e := newTestExporter(t, `{}`)
	e.NewCounterCtor("a.b", "my-label")("v").Incr(1)
	assert.Contains(t, scrape(t, e), `a_b{my_label="v"} 1`)
}

func TestProcessAndGoMetrics(t *testing.T) {
	tests := []struct {
		conf     string
		wantGo   bool
		wantProc bool
	}{
		{conf: `{}`},
		{conf: `add_go_metrics: true`, wantGo: true},
		{conf: `add_process_metrics: true`, wantProc: true},
	}
	for _, tt := range tests {
		t.Run(tt.conf, func(t *testing.T) {
			body := scrape(t, newTestExporter(t, tt.conf))
			assert.Equal(t, tt.wantGo, strings.Contains(body, "go_goroutines"), "go_goroutines")
			// process_* needs /proc, which Linux has.
			assert.Equal(t, tt.wantProc, strings.Contains(body, "process_start_time_seconds"), "process_start_time_seconds")
		})
	}
}

func TestFileOutputPathWrittenAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.txt")
	e := newTestExporter(t, "file_output_path: "+path)
	e.NewCounterCtor("output_sent", "label")("out").Incr(4)
	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing before close")

	require.NoError(t, e.Close(context.Background()))
	require.NoError(t, e.Close(context.Background()), "Close is idempotent")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `output_sent{label="out"} 4`)
}

// The exporter is what Benthos builds from `metrics: prometheus: {}`, and
// Benthos serves its handler.
func TestRegisteredWithBenthos(t *testing.T) {
	view, ok := service.GlobalEnvironment().GetMetricsConfig(Name)
	require.True(t, ok, "prometheus registered")
	require.NotNil(t, view)
}

// A pipeline without a metrics section exports Prometheus (Benthos makes a
// registered `prometheus` the default), with Benthos' own names and labels.
func TestDefaultForAPipelineWithoutMetricsSection(t *testing.T) {
	tests := []struct {
		name    string
		metrics string
	}{
		{name: "no metrics section"},
		{name: "prometheus: {}", metrics: "metrics:\n  prometheus: {}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := service.NewStreamBuilder()
			mux := http.NewServeMux()
			sb.SetHTTPMux(mux)
			require.NoError(t, sb.SetYAML(`
input:
  label: gen
  generate:
    count: 5
    interval: ""
    mapping: 'root = "x"'
output:
  label: sink
  drop: {}
logger:
  level: none
`+tt.metrics))
			stream, err := sb.Build()
			require.NoError(t, err)
			require.NoError(t, stream.Run(context.Background()), "generate with a count ends the stream")

			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			require.Equal(t, http.StatusOK, rec.Code, "/metrics is served")
			body := rec.Body.String()
			assert.Contains(t, body, `input_received{label="gen",path="root.input"} 5`)
			assert.Contains(t, body, `output_sent{label="sink",path="root.output"} 5`)
			assert.Contains(t, body, "# TYPE output_latency_ns summary")
		})
	}
}

// Connect's documented config block writes the unset push fields as "";
// they stay unset here too.
func TestEmptyPushFieldsAreUnset(t *testing.T) {
	parsed, err := spec().ParseYAML("push_url: \"\"\npush_interval: \"\"\n", nil)
	require.NoError(t, err)
	conf, err := parseConfig(parsed)
	require.NoError(t, err)
	assert.Empty(t, conf.pushURL)
	assert.Zero(t, conf.pushInterval)
}
