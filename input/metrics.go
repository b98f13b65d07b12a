package input

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Metric names (docs/metrics.md).
const (
	metricEventsReceived  = "salesforce_streaming_events_received"
	metricReconnects      = "salesforce_streaming_reconnects"
	metricTokenRefreshes  = "salesforce_streaming_token_refreshes"
	metricReplayFallbacks = "salesforce_streaming_replay_fallbacks"
	metricCheckpointLag   = "salesforce_streaming_checkpoint_lag"
	metricEventsDropped   = "salesforce_streaming_events_dropped"
	metricOrgMigrations   = "salesforce_streaming_org_migrations"
	// Checkpoint health and the lease (checkpoint_health.go, lease.go).
	metricCheckpointErrors = "salesforce_streaming_checkpoint_errors"
	metricCheckpointAge    = "salesforce_streaming_checkpoint_age_seconds"
	metricLeaseHeld        = "salesforce_streaming_lease_held"
)

// ssiMetrics holds the input's metrics. It is both clients' stream.Observer,
// so the counters see what happens inside a session (reconnects, token
// refreshes, replay fallbacks) as it happens.
type ssiMetrics struct {
	events          *service.MetricCounter
	reconnects      *service.MetricCounter
	tokenRefreshes  *service.MetricCounter
	replayFallbacks *service.MetricCounter
	dropped         *service.MetricCounter
	orgMigrations   *service.MetricCounter
	lag             *service.MetricGauge
	// onFallback, when set, is told of each replay-id fallback as it
	// happens (on_invalid_replay_id: resync; cdc_runtime.go).
	onFallback func(channel string)

	checkpointErrors *service.MetricCounter
	checkpointAge    *service.MetricGauge
	leaseHeld        *service.MetricGauge
}

func newMetrics(m *service.Metrics) *ssiMetrics {
	return &ssiMetrics{
		events:          m.NewCounter(metricEventsReceived, "channel"),
		reconnects:      m.NewCounter(metricReconnects, "reason"),
		tokenRefreshes:  m.NewCounter(metricTokenRefreshes),
		replayFallbacks: m.NewCounter(metricReplayFallbacks, "channel"),
		dropped:         m.NewCounter(metricEventsDropped, "channel", "reason"),
		orgMigrations:   m.NewCounter(metricOrgMigrations),
		lag:             m.NewGauge(metricCheckpointLag, "channel"),

		checkpointErrors: m.NewCounter(metricCheckpointErrors, "channel"),
		checkpointAge:    m.NewGauge(metricCheckpointAge, "channel"),
		leaseHeld:        m.NewGauge(metricLeaseHeld),
	}
}

func (m *ssiMetrics) Reconnect(reason stream.ReconnectReason) { m.reconnects.Incr(1, string(reason)) }

func (m *ssiMetrics) TokenRefresh() { m.tokenRefreshes.Incr(1) }

func (m *ssiMetrics) ReplayFallback(channel string, _ stream.InvalidReplayPolicy) {
	m.replayFallbacks.Incr(1, stream.ChannelKey(channel))
	if m.onFallback != nil {
		m.onFallback(channel)
	}
}

func (m *ssiMetrics) Events(channel string, n int) {
	m.events.Incr(int64(n), stream.ChannelKey(channel))
}

// Dropped counts events the client refused to hand on (stream.DropObserver).
// The channel label is empty for events on channels that are not
// subscribed: their names come from the server and must not mint series.
func (m *ssiMetrics) Dropped(channel, reason string, n int) {
	if reason == stream.DropUnknownChannel || reason == stream.DropMissingChannel {
		channel = ""
	}
	m.dropped.Incr(int64(n), stream.ChannelKey(channel), reason)
}

// checkpointLag records the messages of channel received but not yet acknowledged.
func (m *ssiMetrics) checkpointLag(channel string, pending int64) { m.lag.Set(pending, channel) }

var _ stream.DropObserver = (*ssiMetrics)(nil)
