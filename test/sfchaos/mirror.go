package main

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the mirror's tables are read with pgx

	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// With -mirror the soak also runs the shipped record mirror, config/cdc_mirror_postgres.yaml (snapshot initial,
// gap_events fetch, on_invalid_replay_id resync), as a bin/benthos of its own into a throwaway PostgreSQL, on the
// emulator's records (-mirror-accounts Accounts, -mirror-contacts Contacts). During the chaos the records change
// through /emulator/mutate (plain changes, gap events, overflows), the emulator's faults hit the mirror's
// sessions too, and every kill -9, graceful stop and redis restart of the soak hits it as well. After the drain
// its tables must equal the emulator's records field for field (harness.MirrorDiff). The CDC channels of the
// record objects then belong to the mirror: the soak's own publisher leaves out /data/ channels, whose events
// the mutations would interleave with its ledger's.

const (
	// mirrorRunBase numbers the mirror's runs apart from the replicas'.
	mirrorRunBase = 2000
	// mutateEvery is the mean interval between two mutation calls.
	mutateEvery = time.Second
)

// mirrorSoak is the mirror's part of a soak.
type mirrorSoak struct {
	runner *benthosRunner
	pg     *harness.Postgres
	db     *dbsql.DB
	org    *orgapi.Client
	emu    *harness.Emulator
	rng    *rand.Rand

	mutations map[string]int // changes made, per kind of events (change, gap, overflow)
	calls     int
	kills     int
	stops     int
	// purged is set once the mirror's channels lost their retained events while it was down (past retention).
	purged bool
}

// mirrorResult is what the mirror's part observed.
type mirrorResult struct {
	enabled    bool
	accounts   int
	contacts   int
	mutations  map[string]int
	runs       int
	kills      int
	stops      int
	purged     bool // a restart met its stored replay ids past retention
	converged  bool
	convergeIn time.Duration // after the soak's drain
	diff       string        // the first difference left, "" when the tables equal the org
}

// mirrorRecordArgs are the emulator's flags that create the mirrored records.
func mirrorRecordArgs(o options) []string {
	return []string{"-records", fmt.Sprintf("Account=%d", o.mirrorAccounts), "-records", fmt.Sprintf("Contact=%d", o.mirrorContacts)}
}

// withoutCDC leaves out the /data/ channels: under -mirror their events are the mutations'.
func withoutCDC(channels []channelSpec) []channelSpec {
	var out []channelSpec
	for _, ch := range channels {
		if !strings.HasPrefix(ch.Base, "/data/") {
			out = append(out, ch)
		}
	}
	return out
}

// startMirror starts PostgreSQL and the mirror's first run.
func startMirror(ctx context.Context, dir string, emu *harness.Emulator, resources string, seed uint64) (*mirrorSoak, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	pipeline, err := os.ReadFile(filepath.Join(root, "config", "cdc_mirror_postgres.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading the shipped mirror: %w", err)
	}
	pg, err := harness.StartPostgres(ctx, dir)
	if err != nil {
		return nil, err
	}
	m := &mirrorSoak{pg: pg, emu: emu, mutations: map[string]int{}, rng: rand.New(rand.NewPCG(seed, 0x6d6972726f72))}
	if m.db, err = dbsql.Open("pgx", pg.DSN); err != nil {
		m.Close()
		return nil, fmt.Errorf("opening the mirror's database: %w", err)
	}
	if m.org, err = harness.EmulatorOrgClient(emu.URL); err != nil {
		m.Close()
		return nil, err
	}
	m.runner = &benthosRunner{
		dir: dir, resources: resources, planner: newRunPlanner(seed + 2), run: mirrorRunBase,
		config:  func(runPlan) (string, error) { return string(pipeline), nil },
		started: func(runPlan) {},
		env:     []string{"SF_ORG_URL=" + emu.URL, "POSTGRES_DSN=" + pg.DSN},
		args:    mirrorArgs(),
	}
	if err := m.runner.start(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// mirrorArgs are the mirror's settings over the shipped config: Benthos' HTTP server off (it would take the
// others' default port), and the soak's lease ttl and back-off, so that takeovers and recoveries take seconds
// (the shipped config waits 2 minutes after an org limit, as Salesforce asks).
func mirrorArgs() []string {
	args := []string{"--set", "http.enabled=false", "--set", "input.salesforce_streaming.lease.ttl=" + leaseTTL.String()}
	for _, k := range sortedKeys(soakBackoff) {
		args = append(args, "--set", fmt.Sprintf("input.salesforce_streaming.backoff.%s=%v", k, soakBackoff[k]))
	}
	return args
}

// mutate makes one random batch of changes: mostly change events, some gap events, now and then an overflow. It
// answers what it did, for the action log.
func (m *mirrorSoak) mutate(ctx context.Context) (string, error) {
	object := "Account"
	if m.rng.IntN(3) == 0 {
		object = "Contact"
	}
	events, count := "", 1+m.rng.IntN(20)
	switch r := m.rng.IntN(20); {
	case r == 0:
		events, count = "overflow", 20+m.rng.IntN(40)
	case r < 5:
		events, count = "gap", 1+m.rng.IntN(5)
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	if _, err := m.emu.Mutate(ctx, object, count, events); err != nil {
		return "", err
	}
	kind := events
	if kind == "" {
		kind = "change"
	}
	m.mutations[kind] += count
	m.calls++
	return fmt.Sprintf("mirror: %d %s records changed (%s)", count, object, kind), nil
}

// nextMutation draws when the next mutation call is due.
func (m *mirrorSoak) nextMutation(now time.Time) time.Time {
	return now.Add(time.Duration(m.rng.ExpFloat64() * float64(mutateEvery)))
}

// kill kill -9s the mirror's run, when one is up.
func (m *mirrorSoak) kill() error {
	ok, err := m.runner.kill()
	if ok {
		m.kills++
	}
	return err
}

// stop stops the mirror's run gracefully, when one is up.
func (m *mirrorSoak) stop() error {
	ok, _, err := m.runner.stop(stopTimeout)
	if ok {
		m.stops++
	}
	return err
}

// pastRetention drops every retained event of the mirror's channels while it is down, after more changes.
func (m *mirrorSoak) pastRetention(s *soak) error {
	ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
	defer cancel()
	if _, err := m.emu.Mutate(ctx, "Account", 50, ""); err != nil {
		return err
	}
	m.mutations["change"] += 50
	for _, tb := range harness.ShippedMirrorTables {
		ch := "/data/" + tb.Object + "ChangeEvent"
		if _, err := m.emu.Purge(ctx, ch, nil); err != nil {
			return err
		}
	}
	m.purged = true
	s.logf("mirror: 50 Account records changed, then every retained event of its channels dropped while it is down (past retention)")
	return nil
}

// diff compares the tables with the emulator's records.
func (m *mirrorSoak) diff(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	return harness.MirrorDiff(ctx, m.db, m.org, harness.ShippedMirrorTables)
}

// converge waits, with the mirror up, until its tables equal the records or timeout passes; it answers the
// difference left.
func (m *mirrorSoak) converge(ctx context.Context, timeout time.Duration, watch func() error) (string, time.Duration, error) {
	began := time.Now()
	deadline := began.Add(timeout)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := watch(); err != nil {
			return "", 0, err
		}
		diff, err := m.diff(ctx)
		if err != nil {
			return "", 0, err
		}
		if diff == "" || time.Now().After(deadline) {
			return diff, time.Since(began), nil
		}
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("the mirror's convergence interrupted: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Close ends the mirror's run and its database; idempotent.
func (m *mirrorSoak) Close() {
	if m.runner != nil {
		m.runner.Close()
	}
	if m.db != nil {
		_ = m.db.Close()
	}
	if m.pg != nil {
		_ = m.pg.Close()
	}
}

// runners are the soak's bin/benthos runners: the two replicas and, with -mirror, the mirror.
func (s *soak) runners() []*benthosRunner {
	rs := []*benthosRunner{s.benthos, s.replica}
	if s.mirror != nil {
		rs = append(rs, s.mirror.runner)
	}
	return rs
}

// mirrorDo applies an action of the plan to the mirror: kill -9s kill it too, graceful stops stop it (a kill
// while redis is down, where a stop could only wait for its timeout), starts start it.
func (s *soak) mirrorDo(a action) error {
	if s.mirror == nil {
		return nil
	}
	switch a.Kind {
	case actStop:
		if s.redisUp {
			if err := s.mirror.stop(); err != nil {
				s.problem("mirror: %v", err)
			}
			return nil
		}
		return s.mirror.kill()
	case actKill:
		if err := s.mirror.kill(); err != nil {
			return err
		}
		// Once, in the chaos' second half (else before the final convergence): the mirror's stored replay ids
		// fall out of retention while it is down, as after days of downtime, and records change meanwhile; its
		// restart must resync.
		if !s.mirror.purged && time.Since(s.start) > s.opts.duration/2 {
			return s.mirror.pastRetention(s)
		}
	case actStart:
		if !s.mirror.runner.running() {
			return s.mirror.runner.start()
		}
	}
	return nil
}

// mirrorDrain waits, after the soak's drain, for the mirror's tables to equal the records (no more mutations
// are made once the chaos ends). When the chaos never took the mirror past retention, it does so first.
func (s *soak) mirrorDrain(ctx context.Context) (mirrorResult, error) {
	if s.mirror == nil {
		return mirrorResult{}, nil
	}
	m := s.mirror
	if !m.purged { // no kill -9 in the chaos' second half: retention passes now, with the mirror down
		if err := m.kill(); err != nil {
			return mirrorResult{}, err
		}
		if err := m.pastRetention(s); err != nil {
			return mirrorResult{}, err
		}
	}
	if err := m.runner.start(); err != nil {
		return mirrorResult{}, err
	}
	diff, took, err := m.converge(ctx, s.opts.drainTimeout, s.watchBenthos)
	if err != nil {
		return mirrorResult{}, err
	}
	s.logf("mirror: %s after %v", map[bool]string{true: "equal to the org's records", false: "still differs: " + diff}[diff == ""], took.Round(time.Millisecond))
	return mirrorResult{enabled: true, accounts: s.opts.mirrorAccounts, contacts: s.opts.mirrorContacts,
		converged: diff == "", convergeIn: took, diff: diff}, nil
}

// mirrorFinal stops the mirror gracefully and compares once more: the stop must not undo anything.
func (s *soak) mirrorFinal(ctx context.Context, r *mirrorResult) error {
	if s.mirror == nil {
		return nil
	}
	m := s.mirror
	r.mutations, r.kills, r.stops, r.runs, r.purged = m.mutations, m.kills, m.stops, m.runner.run-mirrorRunBase, m.purged
	if err := m.stop(); err != nil {
		s.problem("mirror: final %v", err)
	}
	diff, err := m.diff(ctx)
	if err != nil {
		return err
	}
	if r.diff == "" && diff != "" {
		r.diff = "after the final graceful stop: " + diff
	}
	return nil
}
