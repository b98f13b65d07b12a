package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// kind is the Prometheus type a metric name was first registered as.
type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindTimer
)

func (k kind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	default:
		return "timer"
	}
}

// family is one registered metric name: its type, its label keys in the order
// it was registered with, and the client_golang vector.
type family struct {
	kind kind
	keys []string
	vec  any // *prom.CounterVec, *prom.GaugeVec, or prom.ObserverVec
}

// exporter is a service.MetricsExporter over one client_golang registry of its
// own (not the global default), so two pipelines in one process, or two
// tests, never collide.
type exporter struct {
	conf    config
	log     *service.Logger
	reg     *prom.Registry
	handler http.HandlerFunc
	pusher  *pushLoop // nil without push_url

	mu       sync.Mutex
	families map[string]*family

	closeOnce sync.Once
	closeErr  error
}

func newExporter(conf config, log *service.Logger) (*exporter, error) {
	e := &exporter{
		conf:     conf,
		log:      log,
		reg:      prom.NewRegistry(),
		families: map[string]*family{},
	}
	if conf.processMetrics {
		if err := e.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("registering process metrics: %w", err)
		}
	}
	if conf.goMetrics {
		if err := e.reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, fmt.Errorf("registering Go metrics: %w", err)
		}
	}
	e.handler = promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}).ServeHTTP
	if conf.pushURL != "" {
		e.pusher = startPushLoop(conf, e.reg, log)
	}
	return e, nil
}

// HandlerFunc is what Benthos serves at /metrics and /stats.
func (e *exporter) HandlerFunc() http.HandlerFunc { return e.handler }

// lookup returns the family of name, registering it with mk on first use, and
// a function that puts label values given in keys' order into the family's
// order. ok is false when the name cannot be exported (an invalid name, or a
// name registered earlier with another type or label set); the caller then
// hands out a metric that drops its values, and the reason is logged once.
func (e *exporter) lookup(name string, k kind, keys []string, mk func(opts prom.Opts, keys []string) (prom.Collector, any)) (fam *family, reorder func([]string) []string, ok bool) {
	name = sanitize(name)
	keys = sanitizeAll(keys)
	e.mu.Lock()
	defer e.mu.Unlock()
	if fam, exists := e.families[name]; exists {
		reorder, ok := e.matchKeys(name, fam, k, keys)
		return fam, reorder, ok
	}
	coll, vec := mk(prom.Opts{Name: name, Help: fmt.Sprintf("Benthos %s metric %s.", k, name)}, keys)
	if err := e.reg.Register(coll); err != nil {
		e.warn("metric %s is not exported: %v", name, err)
		return nil, nil, false
	}
	fam = &family{kind: k, keys: keys, vec: vec}
	e.families[name] = fam
	return fam, identity, true
}

func (e *exporter) matchKeys(name string, fam *family, k kind, keys []string) (func([]string) []string, bool) {
	if fam.kind != k {
		e.warn("metric %s is a %s, and is not exported again as a %s", name, fam.kind, k)
		return nil, false
	}
	if slices.Equal(fam.keys, keys) {
		return identity, true
	}
	// Benthos may ask for the same labels in another order: map positions.
	if len(fam.keys) != len(keys) {
		e.warn("metric %s has labels %v, and is not exported again with labels %v", name, fam.keys, keys)
		return nil, false
	}
	pos := make([]int, len(keys)) // pos[i]: where keys[i] goes in fam.keys
	for i, key := range keys {
		j := slices.Index(fam.keys, key)
		if j < 0 {
			e.warn("metric %s has labels %v, and is not exported again with labels %v", name, fam.keys, keys)
			return nil, false
		}
		pos[i] = j
	}
	return func(values []string) []string {
		if len(values) != len(pos) {
			return values // the vector rejects the count
		}
		out := make([]string, len(values))
		for i, v := range values {
			out[pos[i]] = v
		}
		return out
	}, true
}

func identity(values []string) []string { return values }

// warn logs a registration problem; a nil logger (tests) logs nothing.
func (e *exporter) warn(format string, args ...any) {
	if e.log != nil {
		e.log.Warnf(format, args...)
	}
}

// NewCounterCtor implements service.MetricsExporter.
func (e *exporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	fam, reorder, ok := e.lookup(name, kindCounter, labelKeys, func(opts prom.Opts, keys []string) (prom.Collector, any) {
		v := prom.NewCounterVec(prom.CounterOpts(opts), keys)
		return v, v
	})
	if !ok {
		return func(...string) service.MetricsExporterCounter { return dropped{} }
	}
	vec := fam.vec.(*prom.CounterVec)
	return func(labelValues ...string) service.MetricsExporterCounter {
		c, err := vec.GetMetricWithLabelValues(reorder(labelValues)...)
		if err != nil {
			return dropped{}
		}
		return counter{c}
	}
}

// NewGaugeCtor implements service.MetricsExporter.
func (e *exporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	fam, reorder, ok := e.lookup(name, kindGauge, labelKeys, func(opts prom.Opts, keys []string) (prom.Collector, any) {
		v := prom.NewGaugeVec(prom.GaugeOpts(opts), keys)
		return v, v
	})
	if !ok {
		return func(...string) service.MetricsExporterGauge { return dropped{} }
	}
	vec := fam.vec.(*prom.GaugeVec)
	return func(labelValues ...string) service.MetricsExporterGauge {
		g, err := vec.GetMetricWithLabelValues(reorder(labelValues)...)
		if err != nil {
			return dropped{}
		}
		return gauge{g}
	}
}

// NewTimerCtor implements service.MetricsExporter: a summary of nanoseconds,
// or a histogram of seconds with use_histogram_timing.
func (e *exporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	fam, reorder, ok := e.lookup(name, kindTimer, labelKeys, e.newTimerVec)
	if !ok {
		return func(...string) service.MetricsExporterTimer { return dropped{} }
	}
	vec := fam.vec.(prom.ObserverVec)
	scale := 1.0
	if e.conf.histogramTiming {
		scale = 1e-9
	}
	return func(labelValues ...string) service.MetricsExporterTimer {
		o, err := vec.GetMetricWithLabelValues(reorder(labelValues)...)
		if err != nil {
			return dropped{}
		}
		return timer{o: o, scale: scale}
	}
}

func (e *exporter) newTimerVec(opts prom.Opts, keys []string) (prom.Collector, any) {
	if e.conf.histogramTiming {
		hopts := prom.HistogramOpts{Name: opts.Name, Help: opts.Help, Buckets: e.conf.buckets}
		if len(hopts.Buckets) == 0 {
			hopts.Buckets = prom.DefBuckets
		}
		v := prom.NewHistogramVec(hopts, keys)
		return v, prom.ObserverVec(v)
	}
	objectives := make(map[float64]float64, len(e.conf.objectives))
	for _, o := range e.conf.objectives {
		objectives[o.quantile] = o.err
	}
	v := prom.NewSummaryVec(prom.SummaryOpts{Name: opts.Name, Help: opts.Help, Objectives: objectives}, keys)
	return v, prom.ObserverVec(v)
}

// Close stops the push loop (pushing once more) and writes file_output_path.
// It is idempotent.
func (e *exporter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.pusher != nil {
			errs = append(errs, e.pusher.close(ctx))
		}
		if e.conf.fileOutputPath != "" {
			errs = append(errs, writeFile(e.conf.fileOutputPath, e.reg))
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// sanitize turns a Benthos metric or label name into a valid Prometheus one:
// characters outside [a-zA-Z0-9_:] become underscores, and a leading digit
// gets one in front.
func sanitize(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func sanitizeAll(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		// Label names may not hold a colon.
		out[i] = strings.ReplaceAll(sanitize(k), ":", "_")
	}
	return out
}

type counter struct{ c prom.Counter }

// Incr adds n; a Prometheus counter panics on a negative add, so those are
// dropped.
func (c counter) Incr(n int64) { c.IncrFloat64(float64(n)) }

// IncrFloat64 is picked up by Benthos for fractional increments.
func (c counter) IncrFloat64(n float64) {
	if n >= 0 {
		c.c.Add(n)
	}
}

type gauge struct{ g prom.Gauge }

func (g gauge) Set(v int64) { g.g.Set(float64(v)) }

// SetFloat64 is picked up by Benthos for fractional values.
func (g gauge) SetFloat64(v float64) { g.g.Set(v) }

type timer struct {
	o     prom.Observer
	scale float64
}

func (t timer) Timing(ns int64) { t.o.Observe(float64(ns) * t.scale) }

// dropped is the metric handed out when a name cannot be exported.
type dropped struct{}

func (dropped) Incr(int64)   {}
func (dropped) Set(int64)    {}
func (dropped) Timing(int64) {}
