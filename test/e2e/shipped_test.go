package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// Every file of config/ runs as shipped, in each mode its header documents,
// configured only through the environment variables it reads, with the
// resources/ file its header names, against the emulator and real servers: it
// starts and delivers every published event. A config with no entry here
// fails the test, and so does an entry whose config is gone.

// shippedMode is one way a config's header says to run it.
type shippedMode struct {
	name      string
	resources string // the resources/ file the header's command line names
	run       func(t *testing.T, s *shippedRun)
	// emulator, when set, gives the mode's further emulator flags and
	// bin/benthos variables (records to start with, a Pub/Sub address).
	emulator func(t *testing.T) (args, env []string)
}

// shippedModes holds, per config/ file, its documented modes.
var shippedModes = map[string][]shippedMode{
	"demo.yaml": {
		{name: "stdout", resources: "replay_ids_file.yaml", run: runDemo},
	},
	"cdc_to_postgres.yaml": {
		{name: "postgres", resources: "replay_ids_redis.yaml", run: runCDCToPostgres},
	},
	"cdc_mirror_postgres.yaml": {
		{name: "streaming", resources: "replay_ids_redis.yaml", run: runCDCMirror, emulator: mirrorEmulator(false)},
		{name: "pubsub", resources: "replay_ids_redis.yaml", run: runCDCMirror, emulator: mirrorEmulator(true)},
	},
	"platform_events_to_kafka.yaml": {
		{name: "kafka", resources: "replay_ids_redis.yaml", run: runEventsToKafka},
	},
	"pushtopic_to_s3.yaml": {
		{name: "S3_BUCKET set: s3", resources: "replay_ids_file.yaml", run: runPushTopicToS3},
		{name: "S3_BUCKET unset: files", resources: "replay_ids_file.yaml", run: runPushTopicToFiles},
	},
}

func TestShippedConfigsRun(t *testing.T) {
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "config", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		modes, ok := shippedModes[name]
		if !assert.True(t, ok, "config/%s has no mode in shippedModes: add how its header says to run it", name) {
			continue
		}
		pipeline, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range modes {
			assert.Contains(t, header(string(pipeline)), "resources/"+m.resources,
				"config/%s: the header's command line names the mode's resources", name)
			t.Run(strings.TrimSuffix(name, ".yaml")+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				m.run(t, newShippedRun(t, root, string(pipeline), m))
			})
		}
	}
	for name := range shippedModes {
		assert.True(t, seen[name], "shippedModes names config/%s, which does not exist", name)
	}
}

// header returns the leading comment block of a config.
func header(config string) string {
	var b strings.Builder
	for _, line := range strings.Split(config, "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// shippedRun is one mode's world: the emulator, the config and resources as
// shipped, and the replay-id store the resources point at.
type shippedRun struct {
	e         *env
	pipeline  string
	resources string
	storeEnv  []string       // the variables pointing the resources at the store
	redis     *harness.Redis // the store, with the redis resources
	keyFile   string         // the jwt-bearer private key the emulator wrote
	modeEnv   []string       // the mode's own variables (shippedMode.emulator)
}

func newShippedRun(t *testing.T, root, pipeline string, m shippedMode) *shippedRun {
	resourcesFile := m.resources
	keyFile := filepath.Join(t.TempDir(), "salesforce.key")
	args := []string{"-jwt-key-out", keyFile}
	var modeEnv []string
	if m.emulator != nil {
		more, env := m.emulator(t)
		args, modeEnv = append(args, more...), env
	}
	e := newEnv(t, harness.EmulatorConfig{Args: args})
	resources, err := os.ReadFile(filepath.Join(root, "resources", resourcesFile))
	require.NoError(t, err)
	s := &shippedRun{e: e, pipeline: pipeline, resources: string(resources), keyFile: keyFile, modeEnv: modeEnv}
	switch resourcesFile {
	case "replay_ids_file.yaml":
		e.fileCache() // creates <dir>/replay_ids, where the resource points with SALESFORCE_STREAMING_DATA_DIR
		s.storeEnv = []string{"SALESFORCE_STREAMING_DATA_DIR=" + e.dir}
	case "replay_ids_redis.yaml":
		s.redis = startRedis(t, e)
		s.storeEnv = []string{"REDIS_URL=" + s.redis.URL}
	default:
		require.FailNow(t, "unknown resources file", resourcesFile)
	}
	return s
}

// start runs bin/benthos on the config as shipped with the given variables,
// the emulator's URL and the store's.
func (s *shippedRun) start(name string, env ...string) *harness.Process {
	s.e.t.Helper()
	env = append(append(append([]string{"SF_ORG_URL=" + s.e.emu.URL}, s.storeEnv...), s.modeEnv...), env...)
	proc, err := harness.StartBenthos(harness.BenthosConfig{
		Dir:       s.e.dir,
		Name:      name,
		Pipeline:  s.pipeline,
		Resources: []string{s.resources},
		Env:       env,
		// The HTTP server's default port would collide with parallel runs.
		Args: []string{"--set", "http.enabled=false"},
	})
	require.NoError(s.e.t, err)
	s.e.cleanupProcess(proc)
	return proc
}

// checkpoint reads a channel's stored replay id as text from the store.
func (s *shippedRun) checkpoint(prefix, channel string) (string, bool) {
	t := s.e.t
	read := s.e.fileCacheValue
	if s.redis != nil {
		read = func(key string) (string, bool) {
			v, ok, err := s.redis.Get(s.e.ctx, key)
			require.NoError(t, err)
			return v, ok
		}
	}
	pos, ok := readCheckpoint(t, read, prefix, channel)
	if !ok {
		return "", false
	}
	return string(checkpointfmt.CometD.Format(pos)), true
}

// clearStore empties the replay-id store: the next run starts afresh.
func (s *shippedRun) clearStore() {
	t := s.e.t
	if s.redis != nil {
		_, err := s.redis.Do(s.e.ctx, "FLUSHALL")
		require.NoError(t, err)
		return
	}
	require.NoError(t, os.RemoveAll(s.e.path("replay_ids")))
	s.e.fileCache()
}

// waitCheckpoints waits until the store holds the last published id of every
// channel under prefix: the run has written everything.
func (s *shippedRun) waitCheckpoints(prefix string, want harness.Published) {
	t := s.e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(s.e.ctx, deliverWait)
	defer cancel()
	for {
		done := true
		for ch, ids := range want {
			got, ok := s.checkpoint(prefix, ch)
			done = done && ok && got == idText(ids[len(ids)-1])
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "waiting for the checkpoints", "%v", ctx.Err())
		case <-time.After(destPoll):
		}
	}
}

// startRedis starts a redis-server for one test, or skips naming why.
func startRedis(t *testing.T, e *env) *harness.Redis {
	t.Helper()
	rd, err := harness.StartRedis(e.ctx, t.TempDir())
	if errors.Is(err, harness.ErrRedisNotInstalled) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis:\n%s", rd.Proc.Tail(logTailLines))
		}
		_ = rd.Close()
	})
	return rd
}

// startPostgres starts a throwaway PostgreSQL for one test, or skips naming why.
func startPostgres(t *testing.T, e *env) *harness.Postgres {
	t.Helper()
	pg, err := harness.StartPostgres(e.ctx, e.dir)
	if errors.Is(err, harness.ErrPostgresNotInstalled) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(pg.LogTail(logTailLines))
		}
		_ = pg.Close()
	})
	return pg
}

// demoLine is a line of config/demo.yaml's output: time, channel, replay id.
var demoLine = regexp.MustCompile(`^\d{2}:\d{2}:\d{2} (\S+) +replay_id=(\d+) +created=\S+`)

// runDemo: config/demo.yaml prints one line per event of its four channels,
// each once.
func runDemo(t *testing.T, s *shippedRun) {
	e := s.e
	ledger := harness.NewLedger()
	for _, ch := range []string{"/event/Order__e", "/data/AccountChangeEvent", "/topic/InvoiceUpdates", "/u/Alerts"} {
		ids, err := e.emu.PublishIDs(e.ctx, ch, 15, 1)
		require.NoError(t, err)
		ledger.Add(ch, ids...)
	}
	want := ledger.Published()
	proc := s.start("shipped-demo")
	var recs []harness.Record
	waitDestination(t, e, recordsFunc(func(t *testing.T) []harness.Record {
		recs = recs[:0]
		for _, line := range strings.Split(proc.Stdout(), "\n") {
			m := demoLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			id, err := strconv.ParseInt(m[2], 10, 64)
			require.NoError(t, err)
			recs = append(recs, harness.Record{Channel: m[1], ReplayID: id})
		}
		return recs
	}), "a line per event on stdout", func(got []harness.Record) bool {
		return harness.Check(want, got).Complete()
	}, proc)
	e.stop(proc)
	report := harness.Check(want, recs)
	t.Logf("%d lines; %s", len(recs), report)
	assert.True(t, report.OK(), "%s", report)
	assert.Empty(t, report.Duplicates, "one line per event: %s", report)
}

// runPushTopicToFiles: config/pushtopic_to_s3.yaml without S3_BUCKET writes
// every open invoice and every generic event, once, as a line of the file of
// its channel under $SALESFORCE_STREAMING_DATA_DIR/archive, and never builds
// the S3 output.
func runPushTopicToFiles(t *testing.T, s *shippedRun) {
	e := s.e
	want := publishArchived(t, e)
	proc := s.start("shipped-files", "S3_BUCKET=")
	files := map[string]string{
		archiveTopic:  e.path("archive/topic_InvoiceUpdates.jsonl"),
		archiveAlerts: e.path("archive/u_Alerts.jsonl"),
	}
	var recs []harness.Record
	waitDestination(t, e, recordsFunc(func(t *testing.T) []harness.Record {
		recs = recs[:0]
		for ch, f := range files {
			b, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			require.NoError(t, err)
			for _, r := range archivedLines(t, f, b) {
				assert.Equal(t, ch, r.Channel, "%s holds events of its channel only", f)
				recs = append(recs, r)
			}
		}
		return recs
	}), "every event in its channel's file", func(got []harness.Record) bool {
		return harness.Check(want, got).Complete()
	}, proc)
	e.stop(proc)
	assertArchivedOnce(t, want, recs)
	assert.NotContains(t, proc.Output(), "aws_s3", "the S3 output is not built without S3_BUCKET")
	assert.NotContains(t, proc.Output(), "bucket", "no S3 output, no bucket error")
}
