// Package prometheus registers the `prometheus` metrics exporter over
// github.com/prometheus/client_golang: Benthos' metrics and the input's are
// served in the Prometheus text format at `/metrics` (and `/stats`) of Benthos'
// HTTP server, and optionally pushed to a Pushgateway or written to a file at
// shutdown.
//
// Its name, field names and defaults follow Redpanda Connect's prometheus
// exporter for what we implement, so a metrics section moves between our
// binary and a Connect build unchanged. Once registered, Benthos makes it the
// default metrics type: a config without a metrics section exports Prometheus.
package prometheus

import (
	"fmt"
	"net/url"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Name is the component's name in a config's metrics section.
const Name = "prometheus"

const (
	fieldUseHistogramTiming = "use_histogram_timing"
	fieldHistogramBuckets   = "histogram_buckets"
	fieldSummaryObjectives  = "summary_quantiles_objectives"
	fieldObjQuantile        = "quantile"
	fieldObjError           = "error"
	fieldAddProcessMetrics  = "add_process_metrics"
	fieldAddGoMetrics       = "add_go_metrics"
	fieldPushURL            = "push_url"
	fieldPushInterval       = "push_interval"
	fieldPushJobName        = "push_job_name"
	fieldPushBasicAuth      = "push_basic_auth"
	fieldUsername           = "username"
	fieldPassword           = "password"
	fieldFileOutputPath     = "file_output_path"
)

func spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Summary("Host endpoints (`/metrics` and `/stats`) for Prometheus scraping.").
		Description("Counters and gauges keep Benthos' names and labels (`label`, `path`, and `stream` in streams mode). "+
			"Timings are summaries in nanoseconds, as Benthos measures them, or, with `use_histogram_timing`, "+
			"histograms in seconds. This is the default metrics type: a config without a `metrics` section exports Prometheus.").
		Fields(
			service.NewBoolField(fieldUseHistogramTiming).
				Description("Export timing metrics as histograms (in seconds) instead of summaries (in nanoseconds).").
				Default(false).
				Advanced(),
			service.NewFloatListField(fieldHistogramBuckets).
				Description("The histogram buckets of timing metrics, in seconds. Empty means client_golang's DefBuckets. Used when `use_histogram_timing` is true.").
				Default([]any{}).
				Advanced(),
			service.NewObjectListField(fieldSummaryObjectives,
				service.NewFloatField(fieldObjQuantile).Description("A quantile, from 0 to 1.").Default(0.0),
				service.NewFloatField(fieldObjError).Description("The absolute error allowed for that quantile.").Default(0.0),
			).
				Description("The quantiles of timing summaries and their allowed errors. Used when `use_histogram_timing` is false.").
				Default([]any{
					map[string]any{fieldObjQuantile: 0.5, fieldObjError: 0.05},
					map[string]any{fieldObjQuantile: 0.9, fieldObjError: 0.01},
					map[string]any{fieldObjQuantile: 0.99, fieldObjError: 0.001},
				}).
				Advanced(),
			service.NewBoolField(fieldAddProcessMetrics).
				Description("Also export process metrics: CPU, memory, open file descriptors.").
				Default(false).
				Advanced(),
			service.NewBoolField(fieldAddGoMetrics).
				Description("Also export Go runtime metrics: goroutines, GC pauses, heap.").
				Default(false).
				Advanced(),
			service.NewURLField(fieldPushURL).
				Description("A Pushgateway to push every metric to, every `push_interval` and once at shutdown.").
				Optional().
				Advanced(),
			service.NewDurationField(fieldPushInterval).
				Description("How often to push to `push_url`. Empty pushes only at shutdown.").
				Optional().
				Advanced(),
			service.NewStringField(fieldPushJobName).
				Description("The job name of pushed metrics.").
				Default("benthos_push").
				Advanced(),
			service.NewObjectField(fieldPushBasicAuth,
				service.NewStringField(fieldUsername).Description("The user name.").Default(""),
				service.NewStringField(fieldPassword).Description("The password.").Default("").Secret(),
			).
				Description("Basic authentication for `push_url`.").
				Advanced(),
			service.NewStringField(fieldFileOutputPath).
				Description("A file to write every metric to, in the text format, at shutdown. Empty writes none.").
				Default("").
				Advanced(),
		)
}

func init() {
	service.MustRegisterMetricsExporter(Name, spec(), func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
		c, err := parseConfig(conf)
		if err != nil {
			return nil, err
		}
		return newExporter(c, log)
	})
}

// objective is one quantile of a timing summary and its allowed error.
type objective struct {
	quantile, err float64
}

// config is the parsed metrics section.
type config struct {
	histogramTiming bool
	buckets         []float64
	objectives      []objective
	processMetrics  bool
	goMetrics       bool
	pushURL         string // empty: no push
	pushInterval    time.Duration
	pushJob         string
	pushUser        string
	pushPassword    string
	fileOutputPath  string
}

func parseConfig(conf *service.ParsedConfig) (config, error) {
	var c config
	var err error
	if c.histogramTiming, err = conf.FieldBool(fieldUseHistogramTiming); err != nil {
		return c, err
	}
	if c.buckets, err = conf.FieldFloatList(fieldHistogramBuckets); err != nil {
		return c, err
	}
	objs, err := conf.FieldObjectList(fieldSummaryObjectives)
	if err != nil {
		return c, err
	}
	for i, o := range objs {
		var ob objective
		if ob.quantile, err = o.FieldFloat(fieldObjQuantile); err != nil {
			return c, err
		}
		if ob.err, err = o.FieldFloat(fieldObjError); err != nil {
			return c, err
		}
		if ob.quantile < 0 || ob.quantile > 1 {
			return c, fmt.Errorf("field %s[%d].%s: %v is not between 0 and 1", fieldSummaryObjectives, i, fieldObjQuantile, ob.quantile)
		}
		c.objectives = append(c.objectives, ob)
	}
	if c.processMetrics, err = conf.FieldBool(fieldAddProcessMetrics); err != nil {
		return c, err
	}
	if c.goMetrics, err = conf.FieldBool(fieldAddGoMetrics); err != nil {
		return c, err
	}
	if conf.Contains(fieldPushURL) {
		// Read as a string: FieldURL's parse error quotes the URL, password
		// and all. The error names the field, never the value.
		if c.pushURL, err = conf.FieldString(fieldPushURL); err != nil {
			return c, err
		}
		if _, err := url.Parse(c.pushURL); err != nil {
			return c, fmt.Errorf("field %s: not a valid URL", fieldPushURL)
		}
	}
	// "" is unset, as Connect's documented config block writes it.
	if s, _ := conf.FieldString(fieldPushInterval); s != "" {
		if c.pushInterval, err = conf.FieldDuration(fieldPushInterval); err != nil {
			return c, err
		}
	}
	if c.pushJob, err = conf.FieldString(fieldPushJobName); err != nil {
		return c, err
	}
	if conf.Contains(fieldPushBasicAuth) {
		auth := conf.Namespace(fieldPushBasicAuth)
		if c.pushUser, err = auth.FieldString(fieldUsername); err != nil {
			return c, err
		}
		if c.pushPassword, err = auth.FieldString(fieldPassword); err != nil {
			return c, err
		}
	}
	if c.fileOutputPath, err = conf.FieldString(fieldFileOutputPath); err != nil {
		return c, err
	}
	return c, nil
}
