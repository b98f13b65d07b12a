package main

import (
	"fmt"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// benthosRunner starts, kills and restarts bin/benthos on the soak's
// pipeline. Each start is a new run with its own number (CHAOS_RUN), its own
// config (drawn per run by planner) and log files. It is used from the
// soak's control loop only.
type benthosRunner struct {
	dir       string
	resources string
	planner   *runPlanner
	// config returns the pipeline of a run's plan.
	config func(runPlan) (string, error)
	// started is told each run's plan before the run starts.
	started func(runPlan)
	// env and args are added to every run's environment and command line.
	env, args []string

	run  int
	proc *harness.Process
	// exitExpected is set when the soak itself ended proc; an exit without it
	// is unplanned (a crash or a fatal error of the pipeline).
	exitExpected bool
}

// running reports whether a bin/benthos is up.
func (b *benthosRunner) running() bool { return b.proc != nil && !b.proc.Exited() }

// start starts the next run.
func (b *benthosRunner) start() error {
	if b.running() {
		return nil
	}
	b.run++
	plan := b.planner.next(b.run)
	pipeline, err := b.config(plan)
	if err != nil {
		return fmt.Errorf("starting benthos run %d: %w", b.run, err)
	}
	b.started(plan)
	proc, err := harness.StartBenthos(harness.BenthosConfig{
		Dir:       b.dir,
		Name:      fmt.Sprintf("benthos-run%03d", b.run),
		Pipeline:  pipeline,
		Resources: []string{b.resources},
		Env:       append([]string{fmt.Sprintf("%s=%d", runEnv, b.run)}, b.env...),
		Args:      b.args,
	})
	if err != nil {
		return fmt.Errorf("starting benthos run %d: %w", b.run, err)
	}
	b.proc, b.exitExpected = proc, false
	return nil
}

// kill sends SIGKILL; it reports false when nothing was running.
func (b *benthosRunner) kill() (bool, error) {
	if !b.running() {
		return false, nil
	}
	b.exitExpected = true
	if err := b.proc.Kill(); err != nil {
		return true, fmt.Errorf("killing benthos run %d: %w", b.run, err)
	}
	return true, nil
}

// stop stops gracefully (SIGINT) and returns how long the exit took; an
// error means it had to be killed after timeout or exited with a failure.
func (b *benthosRunner) stop(timeout time.Duration) (bool, time.Duration, error) {
	if !b.running() {
		return false, 0, nil
	}
	b.exitExpected = true
	began := time.Now()
	err := b.proc.Stop(timeout)
	if err != nil {
		err = fmt.Errorf("graceful stop of benthos run %d: %w\n%s", b.run, err, b.proc.Tail(30))
	}
	return true, time.Since(began), err
}

// unplannedExit returns the process when the current run exited without the
// soak asking, once per run.
func (b *benthosRunner) unplannedExit() *harness.Process {
	if b.proc == nil || b.exitExpected || !b.proc.Exited() {
		return nil
	}
	b.exitExpected = true
	return b.proc
}

// Close kills a running bin/benthos.
func (b *benthosRunner) Close() {
	if b.proc != nil {
		b.exitExpected = true
		_ = b.proc.Close()
	}
}
