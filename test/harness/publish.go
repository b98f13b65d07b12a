package harness

import (
	"context"
	"fmt"
	"time"
)

// Rounds is a steady publishing plan: every Interval, PerRound events to each
// channel (replay ids stepping by the channel's gap), Rounds times. Rounds 0
// publishes until ctx ends.
type Rounds struct {
	Channels []string
	Gaps     map[string]int // per channel; missing or < 1 means 1
	PerRound int
	Interval time.Duration
	Rounds   int
}

// PublishRounds publishes as planned and records every id in ledger. It
// returns nil when the plan completes or ctx ends (a soak program's normal
// end), and the first publish error otherwise. A publish cut short by ctx may
// have happened without being recorded, so checks against the ledger want
// plans that run to completion (Rounds > 0).
func (c *Client) PublishRounds(ctx context.Context, ledger *Ledger, plan Rounds) error {
	if plan.PerRound < 1 || len(plan.Channels) == 0 {
		return fmt.Errorf("publishing rounds: want channels and PerRound >= 1, got %d channels, PerRound %d", len(plan.Channels), plan.PerRound)
	}
	ticker := time.NewTicker(max(plan.Interval, time.Millisecond))
	defer ticker.Stop()
	for round := 0; plan.Rounds == 0 || round < plan.Rounds; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
		}
		for _, ch := range plan.Channels {
			gap := max(plan.Gaps[ch], 1)
			ids, err := c.PublishIDs(ctx, ch, plan.PerRound, gap)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("publishing round %d: %w", round, err)
			}
			ledger.Add(ch, ids...)
		}
	}
	return nil
}
