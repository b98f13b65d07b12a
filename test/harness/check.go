package harness

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Published holds, per channel, the replay ids published, in publish order
// (which is replay order: ids grow per channel).
type Published map[string][]int64

// Total returns the number of ids over all channels.
func (p Published) Total() int {
	n := 0
	for _, ids := range p {
		n += len(ids)
	}
	return n
}

// Ledger collects published ids from concurrent publishers.
type Ledger struct {
	mu  sync.Mutex
	ids Published
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{ids: Published{}} }

// Add records ids published to channel, in order.
func (l *Ledger) Add(channel string, ids ...int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids[channel] = append(l.ids[channel], ids...)
}

// Published returns a copy of what was recorded so far.
func (l *Ledger) Published() Published {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(Published, len(l.ids))
	for ch, ids := range l.ids {
		out[ch] = slices.Clone(ids)
	}
	return out
}

// Last returns the last id recorded for channel (ok false when none).
func (l *Ledger) Last(channel string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.ids[channel]
	if len(ids) == 0 {
		return 0, false
	}
	return ids[len(ids)-1], true
}

// Violation is an event delivered for the first time in a run after an event
// of the same channel with a higher replay id: the consumer saw it out of
// order. (Redeliveries of ids already seen in the run are duplicates, not
// violations.)
type Violation struct {
	Run      int    // index of the run (0-based)
	Channel  string //
	Position int    // line index within the run
	ReplayID int64  // the late event
	After    int64  // the highest id delivered before it in the run
}

func (v Violation) String() string {
	return fmt.Sprintf("run %d %s: replay id %d (record %d) delivered after %d", v.Run, v.Channel, v.ReplayID, v.Position, v.After)
}

// Report compares what runs of a pipeline delivered with what was published.
type Report struct {
	Published  int                // ids published, all channels
	Delivered  map[string]int     // distinct published ids delivered, per channel
	Missing    map[string][]int64 // published, never delivered
	Unexpected map[string][]int64 // delivered, never published (or not in the expected set)
	Order      []Violation        // first deliveries out of replay order within a run
	// Duplicates counts deliveries beyond the first, per channel, over all
	// runs; DuplicatesWithinRun counts those inside a single run.
	Duplicates          map[string]int
	DuplicatesWithinRun map[string]int
}

// Check compares runs (each the records of one process run, in file order)
// with published. Missing ids are counted over all runs together; order is
// checked within each run, since a restart legitimately replays from its last
// checkpoint.
func Check(published Published, runs ...[]Record) Report {
	r := Report{
		Published:           published.Total(),
		Delivered:           map[string]int{},
		Missing:             map[string][]int64{},
		Unexpected:          map[string][]int64{},
		Duplicates:          map[string]int{},
		DuplicatesWithinRun: map[string]int{},
	}
	want := make(map[string]map[int64]bool, len(published))
	for ch, ids := range published {
		set := make(map[int64]bool, len(ids))
		for _, id := range ids {
			set[id] = true
		}
		want[ch] = set
	}
	seen := map[string]map[int64]int{} // deliveries per id, all runs
	for run, recs := range runs {
		inRun := map[string]map[int64]bool{}
		highest := map[string]int64{}
		for pos, rec := range recs {
			ch := rec.Channel
			if !want[ch][rec.ReplayID] {
				r.Unexpected[ch] = append(r.Unexpected[ch], rec.ReplayID)
			}
			if seen[ch] == nil {
				seen[ch] = map[int64]int{}
			}
			seen[ch][rec.ReplayID]++
			if seen[ch][rec.ReplayID] > 1 {
				r.Duplicates[ch]++
			}
			if inRun[ch] == nil {
				inRun[ch] = map[int64]bool{}
			}
			if inRun[ch][rec.ReplayID] {
				r.DuplicatesWithinRun[ch]++
				continue
			}
			inRun[ch][rec.ReplayID] = true
			if h, ok := highest[ch]; ok && rec.ReplayID < h {
				r.Order = append(r.Order, Violation{Run: run, Channel: ch, Position: pos, ReplayID: rec.ReplayID, After: h})
				continue
			}
			highest[ch] = rec.ReplayID
		}
	}
	for ch, ids := range published {
		for _, id := range ids {
			if seen[ch][id] > 0 {
				r.Delivered[ch]++
			} else {
				r.Missing[ch] = append(r.Missing[ch], id)
			}
		}
	}
	for ch, ids := range r.Missing {
		if len(ids) == 0 {
			delete(r.Missing, ch)
		}
	}
	return r
}

// Complete reports whether every published id was delivered.
func (r Report) Complete() bool { return len(r.Missing) == 0 }

// OK reports whether every published id was delivered, nothing else was, and
// nothing came out of order. Duplicates are allowed (at least once).
func (r Report) OK() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Order) == 0
}

// MaxDuplicates returns the largest per-channel duplicate count.
func (r Report) MaxDuplicates() int {
	m := 0
	for _, n := range r.Duplicates {
		m = max(m, n)
	}
	return m
}

// Count returns the number of ids in a per-channel id map (Missing, Unexpected).
func Count(m map[string][]int64) int {
	n := 0
	for _, ids := range m {
		n += len(ids)
	}
	return n
}

// String summarises the report; id lists are shortened.
func (r Report) String() string {
	var b strings.Builder
	delivered := 0
	for _, n := range r.Delivered {
		delivered += n
	}
	fmt.Fprintf(&b, "published %d, delivered %d distinct, missing %d, unexpected %d, order violations %d, duplicates %v (within a run %v)",
		r.Published, delivered, Count(r.Missing), Count(r.Unexpected), len(r.Order), r.Duplicates, r.DuplicatesWithinRun)
	for _, ch := range sortedKeys(r.Missing) {
		fmt.Fprintf(&b, "\n  missing %s: %s", ch, shortIDs(r.Missing[ch]))
	}
	for _, ch := range sortedKeys(r.Unexpected) {
		fmt.Fprintf(&b, "\n  unexpected %s: %s", ch, shortIDs(r.Unexpected[ch]))
	}
	for i, v := range r.Order {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... %d more order violations", len(r.Order)-i)
			break
		}
		fmt.Fprintf(&b, "\n  order: %s", v)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}

func shortIDs(ids []int64) string {
	const show = 12
	if len(ids) <= show {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v ... (%d ids, last %d)", ids[:show], len(ids), ids[len(ids)-1])
}
