package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Checkpoint health: a checkpoint_cache that refuses writes is visible
// (/ready 503 naming the channel and the cache, checkpoint_errors on
// /metrics, few log lines) and turns into no loss after a restart. The grace
// period is 5 s here (30 s by default) so that the scenarios stay short.
const (
	healthGrace   = 5 * time.Second
	healthChannel = "/event/Health__e"
	// healthLogWindow is how long a failing store is watched for log lines.
	healthLogWindow = 60 * time.Second
	// healthMaxLines is the most lines about the failing store in that window.
	healthMaxLines = 3
)

// healthEnv is newEnv with a deadline fit for a scenario of a few minutes.
func healthEnv(t *testing.T, cfg harness.EmulatorConfig, d time.Duration) *env {
	t.Helper()
	e := newEnv(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	e.ctx = ctx
	return e
}

// healthPipeline is a record pipeline whose HTTP server (/ready, /metrics)
// listens on a free loopback port, returned with it.
func (e *env) healthPipeline(o inputOpts, extra map[string]any, out string) (map[string]any, string) {
	e.t.Helper()
	addr, err := harness.FreeAddr()
	require.NoError(e.t, err)
	in := e.input(o)
	conf := in["salesforce_streaming"].(map[string]any)
	conf["checkpoint_grace_period"] = healthGrace.String()
	for k, v := range extra {
		conf[k] = v
	}
	return recordPipeline(in, fileOutput(out), map[string]any{"http": map[string]any{"enabled": true, "address": addr}}), "http://" + addr
}

// ready GETs /ready: its status and body (0 when it does not answer).
func ready(ctx context.Context, base string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ready", nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitReady waits until /ready answers want and its body passes check.
func waitReady(t *testing.T, ctx context.Context, base string, want int, within time.Duration, check func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var status int
	var body string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		status, body = ready(ctx, base)
		if status == want && (check == nil || check(body)) {
			return body
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Failf(t, "/ready", "want %d within %v, last %d %s", want, within, status, body)
	return ""
}

// checkpointErrors is salesforce_streaming_checkpoint_errors of channel.
func checkpointErrors(t *testing.T, ctx context.Context, base, channel string) float64 {
	return metric(t, ctx, base, "salesforce_streaming_checkpoint_errors", channel)
}

func metric(t *testing.T, ctx context.Context, base, name, channel string) float64 {
	t.Helper()
	for _, s := range scrapeMetrics(t, ctx, base+"/metrics")[name] {
		if channel == "" || s.labels["channel"] == channel {
			return s.value
		}
	}
	return -1
}

// storeLines are the log lines that speak of the failing store: the input's
// own and the framework's failed connects.
func storeLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "checkpoint_cache") && (strings.Contains(line, "level=error") || strings.Contains(line, "level=warn")) {
			out = append(out, line)
		}
	}
	return out
}

// TestCheckpointStoreFailsFromStart: the file cache's directory is missing
// from the first start, replay_preset latest. The input subscribes nothing
// (a first subscription whose start a restart could not find would lose what
// follows it), reports not ready naming the channel and the cache within the
// grace period, counts the failed writes, and logs at most 3 lines a minute
// about it. After kill -9 and a repair, every event published after the
// first subscription arrives.
func TestCheckpointStoreFailsFromStart(t *testing.T) {
	t.Parallel()
	e := healthEnv(t, harness.EmulatorConfig{}, 4*time.Minute)
	cacheDir := e.path("missing_replay_ids")
	resources := toYAML(t, map[string]any{
		"cache_resources": []any{map[string]any{"label": "replay_ids", "file": map[string]any{"directory": cacheDir}}},
	})
	o := inputOpts{channels: []string{healthChannel}, preset: "latest", key: "health"}
	conf, base := e.healthPipeline(o, nil, e.path("run1.jsonl"))
	proc := e.startBenthos("run1", conf, resources)
	start := time.Now()

	body := waitReady(t, e.ctx, base, http.StatusServiceUnavailable, healthGrace+20*time.Second, func(b string) bool {
		return strings.Contains(b, healthChannel) && strings.Contains(b, `\"replay_ids\"`)
	})
	t.Logf("/ready: %s", body)
	assert.Positive(t, checkpointErrors(t, e.ctx, base, healthChannel), "checkpoint_errors counts the refused writes")
	// Published while nothing is subscribed: with replay_preset latest no
	// run owes these.
	_, err := e.emu.PublishIDs(e.ctx, healthChannel, 5, 1)
	require.NoError(t, err)

	time.Sleep(time.Until(start.Add(healthLogWindow)))
	lines := storeLines(proc.Output())
	assert.LessOrEqual(t, len(lines), healthMaxLines, "lines about the failing store in %v:\n%s", healthLogWindow, strings.Join(lines, "\n"))
	assert.NotEmpty(t, lines, "the failure is logged")
	state, err := e.emu.State(e.ctx)
	require.NoError(t, err)
	assert.False(t, state.HasSubscription(healthChannel), "no subscription while no start position can be stored")
	require.NoError(t, proc.Kill())

	// Published while down, still before the first subscription: not owed.
	_, err = e.emu.PublishIDs(e.ctx, healthChannel, 5, 1)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(cacheDir, 0o755))
	conf2, base2 := e.healthPipeline(o, nil, e.path("run2.jsonl"))
	proc2 := e.startBenthos("run2", conf2, resources)
	_, err = e.emu.WaitSubscribed(e.ctx, healthChannel)
	require.NoError(t, err)
	after := harness.NewLedger()
	ids, err := e.emu.PublishIDs(e.ctx, healthChannel, 20, 1)
	require.NoError(t, err)
	after.Add(healthChannel, ids...)
	waitComplete(e.ctx, t, after.Published(), nil, e.path("run2.jsonl"), proc2)
	waitReady(t, e.ctx, base2, http.StatusOK, 20*time.Second, nil)
	assert.LessOrEqual(t, checkpointErrors(t, e.ctx, base2, healthChannel), 0.0, "no failed write on the repaired store (-1: none counted yet)")

	// kill -9 now, publish while down, restart: nothing after the first
	// subscription is lost.
	require.NoError(t, proc2.Kill())
	ids, err = e.emu.PublishIDs(e.ctx, healthChannel, 10, 1)
	require.NoError(t, err)
	after.Add(healthChannel, ids...)
	run2, err := harness.ReadRecords(e.path("run2.jsonl"))
	require.NoError(t, err)
	conf3, _ := e.healthPipeline(o, nil, e.path("run3.jsonl"))
	proc3 := e.startBenthos("run3", conf3, resources)
	_, report := waitComplete(e.ctx, t, after.Published(), [][]harness.Record{run2}, e.path("run3.jsonl"), proc3)
	assert.Empty(t, report.Missing)
	e.stop(proc3)
}

// TestCheckpointStoreOutageRedis: redis-server stops for 60 s while events
// flow. Within the grace period /ready answers 503 naming the channel and
// the cache, checkpoint_errors grows, at most 3 lines a minute say so; when
// redis is back the input recovers by itself, and after a kill -9 and a
// restart nothing is lost.
func TestCheckpointStoreOutageRedis(t *testing.T) {
	t.Parallel()
	e := healthEnv(t, harness.EmulatorConfig{}, 5*time.Minute)
	redisDir := t.TempDir()
	redis, err := harness.StartRedis(e.ctx, redisDir)
	if errors.Is(err, harness.ErrRedisNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	var redisMu sync.Mutex
	t.Cleanup(func() { redisMu.Lock(); _ = redis.Close(); redisMu.Unlock() })
	resources := toYAML(t, map[string]any{
		"cache_resources": []any{map[string]any{"label": "replay_ids", "redis": map[string]any{"url": redis.URL}}},
	})
	o := inputOpts{channels: []string{healthChannel}, preset: "latest", key: "outage"}
	conf, base := e.healthPipeline(o, nil, e.path("run1.jsonl"))
	proc := e.startBenthos("run1", conf, resources)
	_, err = e.emu.WaitSubscribed(e.ctx, healthChannel)
	require.NoError(t, err)

	published := harness.NewLedger()
	publish := func(n int) {
		ids, err := e.emu.PublishIDs(e.ctx, healthChannel, n, 1)
		require.NoError(t, err)
		published.Add(healthChannel, ids...)
	}
	publish(10)
	waitComplete(e.ctx, t, published.Published(), nil, e.path("run1.jsonl"), proc)

	require.NoError(t, redis.ShutdownSave(e.ctx, 10*time.Second))
	stopped := time.Now()
	logBefore := len(proc.Output())
	publish(10)
	body := waitReady(t, e.ctx, base, http.StatusServiceUnavailable, healthGrace+20*time.Second, func(b string) bool {
		return strings.Contains(b, `\"replay_ids\"`) && strings.Contains(b, healthChannel)
	})
	t.Logf("/ready after %v: %s", time.Since(stopped).Round(time.Second), body)
	assert.Positive(t, checkpointErrors(t, e.ctx, base, healthChannel))
	for time.Since(stopped) < 60*time.Second {
		publish(2)
		time.Sleep(3 * time.Second)
	}
	lines := storeLines(proc.Output()[logBefore:])
	assert.LessOrEqual(t, len(lines), healthMaxLines, "lines about the failing store in 60 s:\n%s", strings.Join(lines, "\n"))
	redisMu.Lock()
	redis, err = harness.StartRedisAt(e.ctx, redisDir, redis.Addr)
	redisMu.Unlock()
	require.NoError(t, err)

	waitReady(t, e.ctx, base, http.StatusOK, 30*time.Second, nil)
	publish(10)
	waitComplete(e.ctx, t, published.Published(), nil, e.path("run1.jsonl"), proc)
	assert.Contains(t, proc.Output(), "works again", "the recovery is logged")

	require.NoError(t, proc.Kill())
	publish(10)
	run1, err := harness.ReadRecords(e.path("run1.jsonl"))
	require.NoError(t, err)
	conf2, _ := e.healthPipeline(o, nil, e.path("run2.jsonl"))
	proc2 := e.startBenthos("run2", conf2, resources)
	_, report := waitComplete(e.ctx, t, published.Published(), [][]harness.Record{run1}, e.path("run2.jsonl"), proc2)
	assert.Empty(t, report.Missing)
	e.stop(proc2)
}

// leaseTTL is the lease's ttl in the replica scenarios, shorter than the
// 15 s default so that five takeovers fit in three minutes; the criterion
// (takeover within ttl + 5 s) scales with it.
const leaseTTL = 5 * time.Second

// replicaRun is one bin/benthos replica of a lease scenario.
type replicaRun struct {
	proc *harness.Process
	out  string
}

// leaseHolderPID reads the lease and returns the holder's process id (the
// holder names itself host/pid/random), 0 when none holds it.
func leaseHolderPID(raw string, ok bool) int {
	if !ok {
		return 0
	}
	l, err := checkpointfmt.ParseLease([]byte(raw))
	if err != nil || l.Expires.Before(time.Now()) {
		return 0
	}
	parts := strings.Split(l.Holder, "/")
	if len(parts) < 3 {
		return 0
	}
	var pid int
	_, _ = fmt.Sscanf(parts[len(parts)-2], "%d", &pid)
	return pid
}

// runLeaseScenario runs replicas on one checkpoint key for d, kills the
// lease holder with kill -9 kills times (starting a replacement each time),
// publishes all along, and checks: at most one replica delivers at any
// moment, each takeover within ttl + 5 s, every event arrives.
func runLeaseScenario(t *testing.T, e *env, resources string, readLease func() (string, bool), replicas, kills int, d time.Duration) {
	key := "replicas"
	o := inputOpts{channels: []string{healthChannel}, preset: "earliest", key: key}
	var runs []*replicaRun
	start := func() *replicaRun {
		n := len(runs)
		out := e.path(fmt.Sprintf("replica%d.jsonl", n))
		conf, _ := e.healthPipeline(o, map[string]any{"lease": map[string]any{"ttl": leaseTTL.String()}}, out)
		r := &replicaRun{proc: e.startBenthos(fmt.Sprintf("replica%d", n), conf, resources), out: out}
		runs = append(runs, r)
		return r
	}
	for range replicas {
		start()
	}

	published := harness.NewLedger()
	ctx, stopPublishing := context.WithCancel(e.ctx)
	var pubWG sync.WaitGroup
	pubWG.Add(1)
	go func() {
		defer pubWG.Done()
		for ctx.Err() == nil {
			if ids, err := e.emu.PublishIDs(ctx, healthChannel, 3, 1); err == nil {
				published.Add(healthChannel, ids...)
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	// Watch the outputs: in no interval do two replicas' outputs grow.
	var overlapMu sync.Mutex
	var overlaps []string
	watchCtx, stopWatch := context.WithCancel(e.ctx)
	var watchWG sync.WaitGroup
	watchWG.Add(1)
	go func() {
		defer watchWG.Done()
		sizes := map[string]int64{}
		for watchCtx.Err() == nil {
			var grew []string
			overlapMu.Lock()
			outs := make([]string, 0, len(runs))
			for _, r := range runs {
				outs = append(outs, r.out)
			}
			overlapMu.Unlock()
			for _, out := range outs {
				if st, err := os.Stat(out); err == nil && st.Size() > sizes[out] {
					sizes[out] = st.Size()
					grew = append(grew, out)
				}
			}
			if len(grew) > 1 {
				overlapMu.Lock()
				overlaps = append(overlaps, fmt.Sprintf("%s: %v", time.Now().Format(time.StampMilli), grew))
				overlapMu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	holder := func(within time.Duration, not int) (int, time.Duration) {
		begin := time.Now()
		for time.Since(begin) < within {
			if pid := leaseHolderPID(readLease()); pid != 0 && pid != not {
				return pid, time.Since(begin)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return 0, time.Since(begin)
	}
	pid, _ := holder(30*time.Second, 0)
	require.NotZero(t, pid, "a replica takes the lease")
	gap := d / time.Duration(kills+1)
	for k := range kills {
		time.Sleep(gap)
		var victim *replicaRun
		overlapMu.Lock()
		for _, r := range runs {
			if r.proc.PID() == pid && !r.proc.Exited() {
				victim = r
			}
		}
		overlapMu.Unlock()
		require.NotNil(t, victim, "kill %d: the holder %d is one of the replicas", k+1, pid)
		require.NoError(t, victim.proc.Kill())
		killed := pid
		var took time.Duration
		pid, took = holder(leaseTTL+30*time.Second, killed)
		require.NotZero(t, pid, "kill %d: a standby takes over", k+1)
		t.Logf("kill %d of %d: takeover by %d after %v", k+1, killed, pid, took.Round(100*time.Millisecond))
		assert.LessOrEqual(t, took, leaseTTL+5*time.Second, "kill %d: takeover within ttl + 5 s", k+1)
		overlapMu.Lock()
		start()
		overlapMu.Unlock()
	}
	time.Sleep(gap)
	stopPublishing()
	pubWG.Wait()

	// Every retained event arrives: the holder's output grows until the runs
	// together hold every published id.
	deadline := time.Now().Add(deliverWait)
	var report harness.Report
	for time.Now().Before(deadline) {
		var all [][]harness.Record
		for _, r := range runs {
			recs, err := harness.ReadRecords(r.out)
			require.NoError(t, err)
			all = append(all, recs)
		}
		if report = harness.Check(published.Published(), all...); report.Complete() {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	stopWatch()
	watchWG.Wait()
	t.Logf("%d events, %d replicas run, report %s", published.Published().Total(), len(runs), report)
	assert.True(t, report.OK(), "%s", report)
	assert.Empty(t, overlaps, "two replicas delivered at once")
	// Duplicates only from in-flight windows: at most what each kill's run
	// had delivered past its last stored checkpoint, which the store writes
	// within milliseconds; bounded well below a kill's share of the stream.
	assert.Less(t, report.MaxDuplicates(), published.Published().Total()/(kills+1), "duplicates: %v", report.Duplicates)
	for _, r := range runs {
		if !r.proc.Exited() {
			e.stop(r.proc)
		}
	}
}

// TestLeaseReplicasRedis: three replicas on one redis-server and one key,
// three minutes, five kill -9 of the holder.
func TestLeaseReplicasRedis(t *testing.T) {
	t.Parallel()
	e := healthEnv(t, harness.EmulatorConfig{}, 6*time.Minute)
	redis, err := harness.StartRedis(e.ctx, t.TempDir())
	if errors.Is(err, harness.ErrRedisNotInstalled) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = redis.Close() })
	resources := toYAML(t, map[string]any{
		"cache_resources": []any{map[string]any{"label": "replay_ids", "redis": map[string]any{"url": redis.URL}}},
	})
	read := func() (string, bool) {
		v, ok, err := redis.Get(e.ctx, checkpointfmt.LeaseKey("replicas"))
		if err != nil {
			return "", false
		}
		return v, ok
	}
	runLeaseScenario(t, e, resources, read, 3, 5, 3*time.Minute)
}

// TestLeaseReplicasFileCache: two replicas on one file cache (one host),
// one minute, two kill -9 of the holder.
func TestLeaseReplicasFileCache(t *testing.T) {
	t.Parallel()
	e := healthEnv(t, harness.EmulatorConfig{}, 4*time.Minute)
	resources := e.fileCache()
	read := func() (string, bool) {
		b, err := os.ReadFile(e.path("replay_ids/" + checkpointfmt.LeaseKey("replicas")))
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	runLeaseScenario(t, e, resources, read, 2, 2, time.Minute)
}
