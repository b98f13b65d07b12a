// Command mutants is the mutation check of the delivery promise: it applies
// each mutant below (a small, deliberate bug in code the promise rests on) to
// a temporary copy of the module, runs the affected package's tests there
// (not -short: the tests that start real servers run too, as in `make test`),
// and fails unless every mutant makes them fail. The working tree is never
// modified.
//
//	go run ./scripts/mutants             # every mutant, each against its tests (Run)
//	go run ./scripts/mutants -only held  # the mutants whose name contains "held"
//	go run ./scripts/mutants -full       # every mutant against its whole package
//
// Run names the tests that cover a mutant's code, so that `make mutants`
// stays within minutes; -full checks that nothing else is needed. Tests that
// need bin/ read SALESFORCE_STREAMING_BIN from the environment, as `make
// test` sets it.
//
// A mutant whose code no longer matches (after a refactoring) is reported as
// stale and fails the check too: update its From text here.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mutant replaces From (which must occur exactly once in File) with To.
type mutant struct {
	Name     string
	Kind     kind
	File     string
	From, To string
	Pkg      string // the package whose tests must catch it
	Run      string // -run of those tests; "" runs the whole package
}

// kind is what part of the promise a mutant breaks.
type kind string

const (
	kindCheckpoint   kind = "checkpoint"    // the stored position: order, shadow, epochs
	kindRedelivery   kind = "redelivery"    // nacks, held batches, whole-batch retries
	kindSession      kind = "session"       // CometD advice and back-off
	kindConfig       kind = "config"        // input validation that keeps files and keys safe
	kindFlowControl  kind = "flow control"  // what the client asks for and holds: checkpoint_limit, num_requested
	kindReplayPolicy kind = "replay policy" // on_invalid_replay_id
	kindOutputAck    kind = "output ack"    // an output acks only what its destination stored
	kindRedaction    kind = "redaction"     // secrets out of server text: order of steps and forms found
)

var mutants = []mutant{
	{
		Name: "stored-id-moves-back",
		Kind: kindCheckpoint,
		File: "input/checkpoint.go",
		From: "if cur, ok := c.acked[channel]; ok && !pos.After(cur) {",
		To:   "if cur, ok := c.acked[channel]; ok && false && !pos.After(cur) {",
		Pkg:  "./input/",
		Run:  "TestCheckpoint",
	},
	{
		Name: "load-ignores-the-higher-shadow",
		Kind: kindCheckpoint,
		File: "input/checkpointfmt/format.go",
		From: "		if codec.shadowWins(sPos, pPos) {",
		To:   "		if false {",
		Pkg:  "./input/...",
		Run:  "TestCacheStore|TestReadPosition",
	},
	{
		Name: "key-written-before-shadow",
		Kind: kindCheckpoint,
		File: "input/checkpointfmt/format.go",
		From: "return []string{key + ShadowSuffix, key}",
		To:   "return []string{key, key + ShadowSuffix}",
		Pkg:  "./input/...",
		Run:  "TestStoreWritesTheShadowFirst|TestCheckpointKey",
	},
	{
		Name: "advice-handshake-on-success-ignored",
		Kind: kindSession,
		File: "internal/bayeux/session.go",
		From: "	case wire.ReconnectHandshake:\n		return &trouble{reason: stream.ReconnectAdviceHandshake, err: errors.New(\"the server advised a new handshake\"),",
		To:   "	case \"mutant\":\n		return &trouble{reason: stream.ReconnectAdviceHandshake, err: errors.New(\"the server advised a new handshake\"),",
		Pkg:  "./internal/bayeux/",
		Run:  "TestAdviceOnASuccessfulConnect|TestGeneric",
	},
	{
		Name: "advice-none-on-success-ignored",
		Kind: kindSession,
		File: "internal/bayeux/session.go",
		From: "	case wire.ReconnectNone:\n		s.adv.Reconnect = wire.ReconnectRetry",
		To:   "	case \"mutant\":\n		s.adv.Reconnect = wire.ReconnectRetry",
		Pkg:  "./internal/bayeux/",
		Run:  "TestAdviceOnASuccessfulConnect|TestGeneric",
	},
	{
		Name: "backoff-never-reset-after-a-healthy-session",
		Kind: kindSession,
		File: "internal/bayeux/session.go",
		From: "		s.streak = 0 // the session survived a full long poll",
		To:   "		_ = 0 // the session survived a full long poll",
		Pkg:  "./internal/bayeux/",
		Run:  "TestBackoff",
	},
	{
		Name: "backoff-not-growing-in-the-reconnect-loop",
		Kind: kindSession,
		File: "internal/bayeux/recover.go",
		From: "		wait = s.cfg.Backoff.Delay(s.streak)\n		refresh = false",
		To:   "		wait = s.cfg.Backoff.Delay(1)\n		refresh = false",
		Pkg:  "./internal/bayeux/",
		Run:  "TestBackoff",
	},
	{
		Name: "rejected-login-mid-session-waits-short",
		Kind: kindSession,
		File: "internal/bayeux/recover.go",
		From: "		case kindOf(err) == kindLoginRejected:\n			refresh = true\n			wait = s.cfg.Backoff.LongDelay()",
		To:   "		case kindOf(err) == kindLoginRejected:\n			refresh = true",
		Pkg:  "./internal/bayeux/",
		Run:  "TestRejectedLogin",
	},
	{
		Name: "held-batch-dropped",
		Kind: kindRedelivery,
		File: "input/input.go",
		From: "free the limit.\n\t\ti.mu.Lock()\n\t\ti.held, i.heldClient = &batch, client",
		To:   "free the limit.\n\t\ti.mu.Lock()\n\t\ti.held, i.heldClient = nil, nil",
		Pkg:  "./input/",
		Run:  "TestHeld",
	},
	{
		Name: "nack-resolves-the-checkpoint",
		Kind: kindRedelivery,
		File: "input/redeliver.go",
		From: "			if err == nil {\n				d.resolve()",
		To:   "			if true {\n				d.resolve()",
		Pkg:  "./input/",
		Run:  "TestNack|TestStreamNacked",
	},
	{
		Name: "framework-index-retry-instead-of-whole-batch",
		Kind: kindRedelivery,
		File: "input/input.go",
		From: "			return newInput(conf, mgr)",
		To: "			in, err := newInput(conf, mgr)\n			if err != nil {\n				return nil, err\n			}\n" +
			"			return service.AutoRetryNacksBatchedToggled(conf, in)",
		Pkg: "./input/",
		Run: "TestReshaped|TestNack|TestBatchMessages",
	},
	{
		Name: "fallback-epoch-ignored",
		Kind: kindCheckpoint,
		File: "input/checkpoint.go",
		From: "func (c *checkpointer) NewEpoch(channel string) int64 {",
		To:   "func (c *checkpointer) NewEpoch(channel string) int64 {\n	return 0",
		Pkg:  "./input/",
		Run:  "TestStreamFallbackEpoch|TestCheckpointEpochs",
	},
	{
		Name: "checkpoint-key-prefix-unchecked",
		Kind: kindConfig,
		File: "input/config.go",
		From: "	stepNoMatch(keyPrefixRE, msgKeyUnsafe),",
		To:   "	stepNoMatch(regexp.MustCompile(``), msgKeyUnsafe),",
		Pkg:  "./input/",
		Run:  "TestUnsafeCheckpointKey|TestAcceptedKeys",
	},
	// The survivors of an independent mutation run, each with the test that
	// now catches it.
	{
		Name: "release-twice-on-ack",
		Kind: kindFlowControl,
		File: "input/input.go",
		From: "batch.Release(n) // flow control follows acks",
		To:   "batch.Release(2 * n) // flow control follows acks",
		Pkg:  "./input/",
		Run:  "TestPubSubFlowControlFollowsAcks",
	},
	{
		Name: "pending-num-requested-trusted",
		Kind: kindFlowControl,
		File: "internal/pubsub/stream.go",
		From: "	switch pending := int(resp.GetPendingNumRequested()); {\n",
		To:   "	switch pending := int(resp.GetPendingNumRequested()); {\n	case pending != flow.outstanding:\n		flow.outstanding = pending\n",
		Pkg:  "./internal/pubsub/",
		Run:  "TestHostileServer|TestFlowControl|TestFlowWindow",
	},
	{
		Name: "decode-stage-queues-as-decoded",
		Kind: kindCheckpoint,
		File: "internal/pubsub/decodestage.go",
		From: "			j.batch = d.s.batch(dec, j.events, j.schemas)\n",
		To:   "			j.batch = d.s.batch(dec, j.events, j.schemas)\n			d.s.enqueue(j.batch)\n			j.events = nil // the queuer has nothing left to queue\n",
		Pkg:  "./internal/pubsub/",
		Run:  "TestDecodeStage",
	},
	{
		Name: "decode-stage-events-not-counted",
		Kind: kindFlowControl,
		File: "internal/pubsub/decodestage.go",
		From: "	d.s.decoding += len(j.events)\n	d.s.mu.Unlock()\n	select {",
		To:   "	d.s.mu.Unlock()\n	select {",
		Pkg:  "./internal/pubsub/",
		Run:  "TestDecodeStage|TestFlowControl",
	},
	{
		Name: "pubsub-latest-restarts-from-earliest",
		Kind: kindReplayPolicy,
		File: "internal/pubsub/retry.go",
		From: "s.restartFrom(ReplayLatest)",
		To:   "s.restartFrom(ReplayEarliest)",
		Pkg:  "./internal/pubsub/",
		Run:  "TestInvalidReplayPolicies",
	},
	{
		Name: "nack-queued-before-the-wait-missed",
		Kind: kindRedelivery,
		File: "input/redeliver.go",
		From: "	if len(r.queue) > 0 || r.interrupted {\n		cancel()\n	}",
		To:   "	if r.interrupted {\n		cancel()\n	}",
		Pkg:  "./input/",
		Run:  "TestNack|TestHeld|TestRedeliver",
	},
	{
		Name: "start-marker-not-written",
		Kind: kindCheckpoint,
		File: "input/start_marker.go",
		From: "	if !i.cp.Unknown(batch.Channel) {\n		return true\n	}\n	marker, ok := startMarker(batch.Events)",
		To:   "	if true {\n		return true\n	}\n	marker, ok := startMarker(batch.Events)",
		Pkg:  "./input/",
		Run:  "TestPubSubStartMarker|TestStartMarker",
	},
	{
		Name: "start-marker-writer-skips-its-own-session",
		Kind: kindCheckpoint,
		File: "input/start_marker.go",
		From: "		i.startSeen[base] = true\n		i.mu.Unlock()\n		return true",
		To:   "		i.startSeen[base] = false\n		i.mu.Unlock()\n		return true",
		Pkg:  "./input/",
		Run:  "TestStartMarkerSkipEnds",
	},
	{
		Name: "nats-puback-timeout-as-success",
		Kind: kindOutputAck,
		File: "components/nats/output.go",
		From: "		case err := <-p.future.Err():\n",
		To:   "		case err := <-p.future.Err():\n			if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {\n				continue\n			}\n",
		Pkg:  "./components/nats/",
		Run:  "TestPubAckTimeoutFails|TestFailedMessagesAreNamed|TestStreamAcksAfterPubAck",
	},
	{
		Name: "sql-commit-error-ignored",
		Kind: kindOutputAck,
		File: "components/sql/output.go",
		From: "if err := tx.Commit(); err != nil {",
		To:   "if err := tx.Commit(); false && err != nil {",
		Pkg:  "./components/sql/",
		Run:  "TestOutput/postgres",
	},
	{
		Name: "redact-cut-before-redacting",
		Kind: kindRedaction,
		File: "internal/redact/redact.go",
		From: "	s := string(b)\n",
		To:   "	s := string(b)\n	if utf8.RuneCountInString(s) > MaxQuote {\n		s = string([]rune(s)[:MaxQuote])\n	}\n",
		Pkg:  "./internal/redact/",
	},
	{
		Name: "redact-plus-not-read-as-a-space",
		Kind: kindRedaction,
		File: "internal/redact/decode.go",
		From: "	percentDecoder(true),  // form bodies",
		To:   "	percentDecoder(false), // form bodies",
		Pkg:  "./internal/redact/",
	},
}

func main() {
	only := flag.String("only", "", "run only the mutants whose name contains this")
	full := flag.Bool("full", false, "run each mutant's whole package, not only its Run tests")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound of one mutant's test run")
	flag.Parse()
	if *full {
		for i := range mutants {
			mutants[i].Run = ""
		}
	}
	if err := run(*only, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run(only string, timeout time.Duration) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sfs-mutants-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		return fmt.Errorf("copying the module: %w", err)
	}

	var survived, stale []string
	ran := 0
	for _, m := range mutants {
		if only != "" && !strings.Contains(m.Name, only) {
			continue
		}
		ran++
		verdict, err := try(tmp, m, timeout)
		switch {
		case err != nil:
			stale = append(stale, m.Name)
			fmt.Printf("STALE    %-44s %-14s %v\n", m.Name, m.Kind, err)
		case verdict == "":
			survived = append(survived, m.Name)
			fmt.Printf("SURVIVED %-44s %-14s %s still passes\n", m.Name, m.Kind, m.Pkg)
		default:
			fmt.Printf("caught   %-44s %-14s %s\n", m.Name, m.Kind, verdict)
		}
	}
	if ran == 0 {
		return fmt.Errorf("no mutant matches %q", only)
	}
	fmt.Printf("%d mutants, %d caught, %d survived, %d stale\n", ran, ran-len(survived)-len(stale), len(survived), len(stale))
	if len(survived)+len(stale) > 0 {
		return fmt.Errorf("survived: %v; stale: %v", survived, stale)
	}
	return nil
}

// try applies m in the copy at dir, runs its package's tests (Run) and
// restores the file. verdict names the first failing test, "" when the tests
// passed (the mutant survived).
func try(dir string, m mutant, timeout time.Duration) (verdict string, err error) {
	path := filepath.Join(dir, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if n := bytes.Count(orig, []byte(m.From)); n != 1 {
		return "", fmt.Errorf("%s holds its code %d times, not once", m.File, n)
	}
	if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.From), []byte(m.To), 1), 0o644); err != nil {
		return "", err
	}
	defer func() {
		if rerr := os.WriteFile(path, orig, 0o644); rerr != nil && err == nil {
			err = rerr
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"test", "-count=1", "-failfast"}
	if m.Run != "" {
		args = append(args, "-run", m.Run)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, m.Pkg)...)
	cmd.Dir = dir
	out, runErr := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return "", nil
	case ctx.Err() != nil:
		return "timed out after " + timeout.String(), nil
	case errors.As(runErr, &exit):
		return firstFailure(out), nil
	}
	return "", fmt.Errorf("running go test: %w", runErr)
}

// firstFailure is the first "--- FAIL" line of a test run, or its first
// line for a build failure.
func firstFailure(out []byte) string {
	for _, line := range strings.Split(string(out), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "--- FAIL") {
			return t
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return "fails: " + first
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("locating the module: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the module")
	}
	return filepath.Dir(mod), nil
}

// copyTree copies the files git knows (tracked or new, not ignored) of root
// into dst.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("listing files: %w", err)
	}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, rel), filepath.Join(dst, rel)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // deleted in the work tree, not yet in git
		}
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
