// Package e2e runs the real bin/benthos against the real bin/sfemu over
// loopback: the acceptance tests of the salesforce_streaming input (resume
// after kill -9, nacks and slow outputs, invalid replay ids, Redis
// checkpoints, streams mode, initial replay ids) and of the shipped configs
// and CLI (lint, unit tests, echo, list).
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Timings shared by the scenarios: short enough that the package runs in a
// few minutes, long enough for a 2-core machine under load.
const (
	emulatorHold = 2 * time.Second  // long-poll hold: sessions cycle often
	testTimeout  = 90 * time.Second // one scenario, start to end
	deliverWait  = 60 * time.Second // all published events in the output
	stopTimeout  = 15 * time.Second // graceful stop of bin/benthos
	logTailLines = 60
)

// requireBinaries fails when the built binaries are missing, or skips when
// nothing asked for them (SALESFORCE_STREAMING_BIN unset, e.g. `go test ./...`
// before `make build`).
func requireBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end tests run the built binaries; skipped in -short mode")
	}
	for _, name := range []string{harness.BenthosBinary, harness.EmulatorBinary} {
		_, err := harness.Binary(name)
		if errors.Is(err, harness.ErrBinaryMissing) && os.Getenv(harness.BinEnv) == "" {
			t.Skipf("end-to-end tests need the binaries: %v", err)
		}
		require.NoError(t, err)
	}
}

// env is one scenario's world: a temp dir, a running emulator and the
// processes started in it, all ended and (on failure) logged at cleanup.
type env struct {
	t   *testing.T
	ctx context.Context
	dir string
	emu *harness.Emulator
}

// newEnv starts bin/sfemu with cfg (Dir, Hold defaulted) for one test.
func newEnv(t *testing.T, cfg harness.EmulatorConfig) *env {
	t.Helper()
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, dir: t.TempDir()}
	if cfg.Dir == "" {
		cfg.Dir = e.dir
	}
	if cfg.Hold == 0 {
		cfg.Hold = emulatorHold
	}
	emu, err := harness.StartEmulator(ctx, cfg)
	require.NoError(t, err)
	e.emu = emu
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator at %s:\n%s", emu.URL, emu.Proc.Tail(logTailLines))
		}
		_ = emu.Close()
		e.keepOnFailure()
	})
	return e
}

// keepEnv names a directory into which a failed scenario's dir (configs,
// logs, outputs, checkpoints) is copied, to rerun or inspect it by hand.
const keepEnv = "E2E_KEEP_DIR"

func (e *env) keepOnFailure() {
	root := os.Getenv(keepEnv)
	if root == "" || !e.t.Failed() {
		return
	}
	dst := filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(e.t.Name()))
	if err := os.CopyFS(dst, os.DirFS(e.dir)); err != nil {
		e.t.Logf("keeping the scenario dir: %v", err)
		return
	}
	e.t.Logf("scenario dir kept in %s", dst)
}

// path returns a file name inside the scenario's dir.
func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

// startBenthos starts bin/benthos on a pipeline config (a JSON object, which
// is YAML) with the given resources; cleanup kills it and logs its output when
// the test failed.
func (e *env) startBenthos(name string, pipeline map[string]any, resources ...string) *harness.Process {
	e.t.Helper()
	proc, err := harness.StartBenthos(harness.BenthosConfig{
		Dir:       e.dir,
		Name:      name,
		Pipeline:  toYAML(e.t, pipeline),
		Resources: resources,
	})
	require.NoError(e.t, err)
	e.cleanupProcess(proc)
	return proc
}

func (e *env) cleanupProcess(proc *harness.Process) {
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("%s:\n%s", proc.Name(), proc.Tail(logTailLines))
		}
		_ = proc.Close()
	})
}

// stop stops a benthos gracefully and requires a clean exit.
func (e *env) stop(proc *harness.Process) {
	e.t.Helper()
	require.NoError(e.t, proc.Stop(stopTimeout), "graceful stop of %s\n%s", proc.Name(), proc.Tail(logTailLines))
}

// fileCache returns cache resources holding replay ids in files under the
// scenario's dir (the resources/replay_ids_file.yaml pattern), and creates
// that directory, which the file cache needs.
func (e *env) fileCache() string {
	e.t.Helper()
	dir := e.path("replay_ids")
	require.NoError(e.t, os.MkdirAll(dir, 0o755))
	return toYAML(e.t, map[string]any{
		"cache_resources": []any{map[string]any{"label": "replay_ids", "file": map[string]any{"directory": dir}}},
	})
}

// fileCheckpoint reads the stored position of a channel from the file cache
// as the input reads it back (its key and the key's shadow copy), written as
// the input stores it: the replay id, with @epoch after a replay-id fallback.
func (e *env) fileCheckpoint(key, channel string) (string, bool) {
	e.t.Helper()
	pos, ok := readCheckpoint(e.t, e.fileCacheValue, key, channel)
	if !ok {
		return "", false
	}
	return string(checkpointfmt.CometD.Format(pos)), true
}

// fileCacheValue reads one raw key of the file cache.
func (e *env) fileCacheValue(cacheKey string) (string, bool) {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.path("replay_ids"), cacheKey))
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	require.NoError(e.t, err)
	return strings.TrimSpace(string(b)), true
}

// readCheckpoint reads a channel's stored position with the input's own
// format (checkpointfmt), from read, a reader of one raw cache key. A
// checkpoint that does not read (both copies mid-write while bin/benthos
// runs) counts as none yet: callers poll, or assert that one is stored.
func readCheckpoint(t *testing.T, read func(cacheKey string) (string, bool), prefix, channel string) (checkpointfmt.Position, bool) {
	t.Helper()
	get := func(_ context.Context, key string) ([]byte, bool, error) {
		v, ok := read(key)
		return []byte(v), ok, nil
	}
	pos, ok, err := checkpointfmt.ReadPosition(context.Background(), get, checkpointfmt.CometD, prefix, channel)
	if err != nil {
		t.Logf("checkpoint of %s under %s: %v", channel, prefix, err)
		return checkpointfmt.Position{}, false
	}
	return pos, ok
}

// resumesAfter is the replay id after which a restart delivers: the stored
// one, or for a start marker (nothing acknowledged yet) the one before its
// first event, which the restart delivers again. No stored value is ever
// that id: it only orders the expectations of a test.
func resumesAfter(pos checkpointfmt.Position) int64 {
	if pos.Start {
		return pos.ID - 1
	}
	return pos.ID
}

// inputOpts are the knobs of the salesforce_streaming input the scenarios
// turn; zero values keep the input's defaults.
type inputOpts struct {
	channels        []string
	preset          string // replay_preset
	onInvalid       string // on_invalid_replay_id
	initial         map[string]int64
	key             string // checkpoint_cache_key
	checkpointLimit int
	maxBuffered     int
	autoReplayNacks *bool
}

// input returns a salesforce_streaming input on the emulator with the
// documented default credentials and the client_credentials grant.
func (e *env) input(o inputOpts) map[string]any {
	conf := map[string]any{
		"org_url":     e.emu.URL,
		"api_version": "64.0",
		"auth": map[string]any{
			"grant_type":    "client_credentials",
			"client_id":     harness.EmulatorClientID,
			"client_secret": harness.EmulatorClientSecret,
		},
		"channels":         o.channels,
		"checkpoint_cache": "replay_ids",
		// Failed reconnects retry soon: a test has no minutes to wait.
		"backoff": map[string]any{"initial_interval": "100ms", "max_interval": "1s", "long_interval": "2s"},
		// A run restarted after a kill -9 waits for its predecessor's lease
		// to run out: 3 s, not the default 15 s.
		"lease": map[string]any{"ttl": "3s"},
	}
	set := func(k string, v any, ok bool) {
		if ok {
			conf[k] = v
		}
	}
	set("replay_preset", o.preset, o.preset != "")
	set("on_invalid_replay_id", o.onInvalid, o.onInvalid != "")
	set("initial_replay_ids", o.initial, o.initial != nil)
	set("checkpoint_cache_key", o.key, o.key != "")
	set("checkpoint_limit", o.checkpointLimit, o.checkpointLimit > 0)
	set("max_buffered_events", o.maxBuffered, o.maxBuffered > 0)
	if o.autoReplayNacks != nil {
		conf["auto_replay_nacks"] = *o.autoReplayNacks
	}
	return map[string]any{"salesforce_streaming": conf}
}

// recordPipeline is a whole config: the input, a mapping to Record lines and
// the given output, processed by one thread, with the HTTP server off (parallel runs would fight over
// :4195) and logs in logfmt on stdout.
func recordPipeline(input, output map[string]any, extra map[string]any) map[string]any {
	conf := map[string]any{
		"http":             map[string]any{"enabled": false},
		"logger":           map[string]any{"level": "info", "format": "logfmt"},
		"shutdown_timeout": "10s",
		"input":            input,
		// One processing thread: with several, Benthos reorders batches
		// (the default is one per CPU), and order is what these tests check.
		"pipeline": map[string]any{
			"threads":    1,
			"processors": []any{map[string]any{"mapping": harness.RecordMapping}},
		},
		"output": output,
	}
	for k, v := range extra {
		conf[k] = v
	}
	return conf
}

// fileOutput writes one Record line per message to path.
func fileOutput(path string) map[string]any {
	return map[string]any{"file": map[string]any{"path": path, "codec": "lines"}}
}

// toYAML renders a config. JSON is YAML, and the generated files stay
// readable for rerunning a failed scenario by hand.
func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b) + "\n"
}

// waitComplete waits until the runs' records (the last one still growing)
// hold every published id and returns the final report. It gives up early
// when a watched process exits or keeps failing to connect: no fault is
// injected in these scenarios, so waiting out the timeout would only hide
// the cause.
// waitDue returns what the growing output holds once every event of want
// arrived; when want is empty (nothing may arrive), after giving the pipeline
// the time it takes to deliver a batch (well under a long-poll hold) to
// misbehave.
func waitDue(ctx context.Context, t *testing.T, want harness.Published, growing string, proc *harness.Process) []harness.Record {
	t.Helper()
	for _, ids := range want {
		if len(ids) > 0 {
			recs, _ := waitComplete(ctx, t, want, nil, growing, proc)
			return recs
		}
	}
	time.Sleep(emulatorHold)
	recs, err := harness.ReadRecords(growing)
	require.NoError(t, err)
	return recs
}

func waitComplete(ctx context.Context, t *testing.T, published harness.Published, done [][]harness.Record, growing string, watch ...*harness.Process) ([]harness.Record, harness.Report) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, deliverWait)
	defer cancel()
	var abort string
	recs, err := harness.WaitRecords(wctx, growing, func(recs []harness.Record) bool {
		if harness.Check(published, append(slices.Clone(done), recs)...).Complete() {
			return true
		}
		abort = stuck(watch)
		return abort != ""
	})
	report := harness.Check(published, append(slices.Clone(done), recs)...)
	require.NoError(t, err, "waiting for every published event: %s", report)
	require.Empty(t, abort, "waiting for every published event: %s", report)
	return recs, report
}

// connectFailureLimit is how many failed connects of the input a scenario
// without injected faults tolerates before it counts as stuck.
const connectFailureLimit = 3

// stuck says why one of procs can no longer deliver, or "".
func stuck(procs []*harness.Process) string {
	for _, p := range procs {
		if p.Exited() {
			return fmt.Sprintf("%s exited: %v", p.Name(), p.ExitErr())
		}
		if fails := logLines(p.Output(), "error", "Failed to connect to salesforce_streaming"); len(fails) >= connectFailureLimit {
			return fmt.Sprintf("%s failed to connect %d times, last: %s", p.Name(), len(fails), fails[len(fails)-1])
		}
	}
	return ""
}

// logLines returns the lines of a logfmt log at a level that contain every
// one of words.
func logLines(log, level string, words ...string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "level="+level) {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

func idText(id int64) string { return strconv.FormatInt(id, 10) }

func ptr[T any](v T) *T { return &v }

// stateWait is a bounded wait on the emulator's state inside a scenario.
func (e *env) stateWait(what string, cond func(harness.State) bool) harness.State {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	st, err := e.emu.WaitState(ctx, what, cond)
	require.NoError(e.t, err)
	return st
}
