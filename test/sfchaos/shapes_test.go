package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunPlannerCoversEveryShapeAndStartsFromLatestAfterTheFirstRun(t *testing.T) {
	p := newRunPlanner(42)
	kinds := map[string]int{}
	refusing := 0
	for run := 1; run <= 8; run++ {
		plan := p.next(run)
		assert.Equal(t, run, plan.Run)
		if run == 1 {
			assert.Equal(t, "earliest", plan.Preset, "the first run reads the backlog")
		} else {
			assert.Equal(t, "latest", plan.Preset, "a restart that ignored its checkpoint must lose events")
		}
		if plan.Shape.Split > 0 {
			assert.LessOrEqual(t, plan.Shape.Split, maxSplit)
		}
		kinds[plan.Shape.kind()]++
		if plan.Refusing {
			refusing++
		}
	}
	assert.Equal(t, map[string]int{"map only": 2, "split": 2, "archive": 2, "split + archive": 2}, kinds,
		"two shuffled cycles hold every shape twice")
	assert.Positive(t, refusing, "some runs refuse requests at random")
	assert.Less(t, refusing, 8, "some runs refuse nothing, so order is checked in them")

	again := newRunPlanner(42)
	first := newRunPlanner(42).next(1)
	assert.Equal(t, first, again.next(1), "the seed replays the plans")
}

func TestRunShapeProcessors(t *testing.T) {
	assert.Len(t, runShape{}.processors(false), 1, "map only: the mapping to records")
	assert.Empty(t, runShape{}.processors(true), "the inputs map their own messages")
	procs := runShape{Split: 3, Archive: true}.processors(false)
	if assert.Len(t, procs, 3) {
		assert.Equal(t, map[string]any{"split": map[string]any{"size": 3}}, procs[1])
		assert.Equal(t, map[string]any{"archive": map[string]any{"format": "lines"}}, procs[2])
	}
	assert.Equal(t, "split 3 + archive", runShape{Split: 3, Archive: true}.String())
}
