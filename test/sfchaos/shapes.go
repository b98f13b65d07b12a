package main

import (
	"math/rand/v2"
	"slices"
)

// maxSplit bounds the split size a run draws.
const maxSplit = 5

// refuseShare is the share of requests the sink refuses at random in a
// refusing run, outside outages: each one is a nack of whole input batches.
const refuseShare = 0.05

// runPlan is what one bin/benthos run is: its preset, the shape of its
// pipeline, and whether its output refuses requests at random.
type runPlan struct {
	Run      int
	Preset   string
	Shape    runShape
	Refusing bool
}

// runPlanner draws each run's plan from the seed: the first run starts from
// `earliest`, every later one from `latest`, so that a restart that ignored
// its checkpoint loses the events published while it was down, and the
// soak sees them as lost. Shapes come in shuffled cycles of every kind (map
// only, split, archive, split then archive), so a short soak has each.
type runPlanner struct {
	rng   *rand.Rand
	cycle []runShape
}

func newRunPlanner(seed uint64) *runPlanner {
	return &runPlanner{rng: rand.New(rand.NewPCG(seed, 3))}
}

// next returns the plan of run number run (1-based).
func (p *runPlanner) next(run int) runPlan {
	if len(p.cycle) == 0 {
		p.cycle = []runShape{{}, {Split: 1}, {Archive: true}, {Split: 1, Archive: true}}
		p.rng.Shuffle(len(p.cycle), func(i, j int) { p.cycle[i], p.cycle[j] = p.cycle[j], p.cycle[i] })
	}
	shape := p.cycle[0]
	p.cycle = slices.Delete(p.cycle, 0, 1)
	if shape.Split > 0 {
		shape.Split = 1 + p.rng.IntN(maxSplit)
	}
	preset := "latest"
	if run == 1 {
		preset = "earliest"
	}
	return runPlan{Run: run, Preset: preset, Shape: shape, Refusing: p.rng.IntN(2) == 0}
}
