package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// publishTimeout bounds one publish request to the emulator.
const publishTimeout = 10 * time.Second

// publishTick is how often the publisher publishes a round to every channel.
const publishTick = 100 * time.Millisecond

// matchShare is the share of events of a filtered PushTopic that match its
// filter; the others must not reach the output.
const matchShare = 0.7

// channelSpec is one channel of the soak.
type channelSpec struct {
	Configured string            // as subscribed, e.g. /topic/X?Status__c=Open
	Base       string            // without ?query: where events are published, the records' channel
	Filter     map[string]string // PushTopic filter of the subscription
	Gap        int               // replay ids step by this
	// API is the transport the soak's input reads the channel with. A
	// Pub/Sub channel's Base is its record channel (pubsubPrefix + Source).
	API    apiKind
	Source string // where its events are published, when not Base
}

// parseChannels parses the -channels list. Gaps cycle 1, 2, 3 so that
// contiguous and gapped replay ids both occur.
func parseChannels(list string) ([]channelSpec, error) {
	var out []channelSpec
	seen := map[string]bool{}
	for i, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		base, query, hasQuery := strings.Cut(raw, "?")
		if !streamingChannel(base) {
			return nil, fmt.Errorf("parsing -channels: %s is not a PushTopic (/topic/X), generic (/u/X), platform event (/event/X__e) or change data capture (/data/X) channel", raw)
		}
		if seen[base] {
			return nil, fmt.Errorf("parsing -channels: %s appears twice (a channel's replay id is kept per name without ?filter)", base)
		}
		seen[base] = true
		spec := channelSpec{Configured: raw, Base: base, Gap: i%3 + 1}
		if hasQuery {
			if !strings.HasPrefix(base, "/topic/") {
				return nil, fmt.Errorf("parsing -channels: %s: only PushTopic channels take a ?filter", raw)
			}
			vals, err := url.ParseQuery(query)
			if err != nil || len(vals) == 0 {
				return nil, fmt.Errorf("parsing -channels: filter of %s: %v", raw, err)
			}
			spec.Filter = map[string]string{}
			for k, vs := range vals {
				spec.Filter[k] = vs[len(vs)-1]
			}
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parsing -channels: no channel in %q", list)
	}
	return out, nil
}

// streamingChannel reports whether name (without ?query) is a channel of one
// of the Streaming API's kinds.
func streamingChannel(name string) bool {
	for _, prefix := range []string{"/topic/", "/u/", "/event/", "/data/"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return rest != "" && !strings.ContainsAny(rest, "/*")
		}
	}
	return false
}

// publisher publishes steadily to every channel through the control API and
// keeps the ledger: every id published, which ones the pipeline must deliver
// (all but a filtered PushTopic's non-matching events), and when each was
// published.
type publisher struct {
	emu      *harness.Client
	channels []channelSpec
	perTick  float64 // events per channel per tick
	rng      *rand.Rand

	mu       sync.Mutex
	expected harness.Published // per base channel: ids the output must get
	times    pubTimes          // per base channel: expected ids with their publish time
	filtered map[string]int    // per base channel: ids published that the filter excludes
	last     map[string]int64  // per base channel: last id published (filtered or not)
	seq      int
}

func newPublisher(emu *harness.Client, channels []channelSpec, ratePerChannel float64, seed uint64) *publisher {
	return &publisher{
		emu:      emu,
		channels: channels,
		perTick:  ratePerChannel * publishTick.Seconds(),
		rng:      rand.New(rand.NewPCG(seed, 2)),
		expected: harness.Published{},
		times:    pubTimes{},
		filtered: map[string]int{},
		last:     map[string]int64{},
	}
}

// run publishes until stop is closed and returns the first publish error.
// A publish is never cut short by stop, so the ledger is exact.
func (p *publisher) run(stop <-chan struct{}) error {
	ticker := time.NewTicker(publishTick)
	defer ticker.Stop()
	credit := make([]float64, len(p.channels))
	for {
		select {
		case <-stop:
			return nil
		case <-ticker.C:
		}
		for i, ch := range p.channels {
			credit[i] += p.perTick
			n := int(credit[i])
			if n < 1 {
				continue
			}
			credit[i] -= float64(n)
			if err := p.publish(ch, n); err != nil {
				return err
			}
		}
	}
}

func (p *publisher) publish(ch channelSpec, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	at := time.Now()
	if ch.Filter == nil {
		ids, err := p.emu.PublishIDs(ctx, ch.Base, n, ch.Gap)
		if err != nil {
			return err
		}
		p.record(ch.Base, at, ids, nil)
		return nil
	}
	payloads := make([]json.RawMessage, n)
	match := make([]bool, n)
	for i := range payloads {
		match[i] = p.rng.Float64() < matchShare
		payloads[i] = p.sobject(ch.Filter, match[i])
	}
	resp, err := p.emu.Publish(ctx, harness.PublishRequest{Channel: ch.Base, Payloads: payloads, Gap: ch.Gap})
	if err != nil {
		return err
	}
	if want := resp.FirstReplayID + int64(n-1)*int64(ch.Gap); resp.LastReplayID != want {
		return fmt.Errorf("publishing %d events to %s with gap %d: ids %d..%d do not step by the gap", n, ch.Base, ch.Gap, resp.FirstReplayID, resp.LastReplayID)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = resp.FirstReplayID + int64(i)*int64(ch.Gap)
	}
	p.record(ch.Base, at, ids, match)
	return nil
}

// sobject returns a PushTopic record that matches filter, or that differs in
// one filtered field.
func (p *publisher) sobject(filter map[string]string, match bool) json.RawMessage {
	p.seq++
	obj := map[string]any{
		"Id":        fmt.Sprintf("a00CHAOS%010d", p.seq),
		"Name":      fmt.Sprintf("CHAOS-%06d", p.seq),
		"Amount__c": float64(p.rng.IntN(100000)) / 100,
	}
	keys := make([]string, 0, len(filter))
	for k := range filter {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		obj[k] = filter[k]
	}
	if !match {
		k := keys[p.rng.IntN(len(keys))]
		obj[k] = filter[k] + "-not"
	}
	b, _ := json.Marshal(obj)
	return b
}

// record adds published ids to the ledger; match (nil: all) says which ones
// the pipeline must deliver.
func (p *publisher) record(channel string, at time.Time, ids []int64, match []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, id := range ids {
		if match != nil && !match[i] {
			p.filtered[channel]++
			continue
		}
		p.expected[channel] = append(p.expected[channel], id)
		p.times[channel] = append(p.times[channel], pubEntry{ID: id, At: at})
	}
	if len(ids) > 0 {
		p.last[channel] = ids[len(ids)-1]
	}
}

// ledger returns copies of what was published: the ids to deliver, their
// publish times, the count filtered out and the last id per channel.
func (p *publisher) ledger() (expected harness.Published, times pubTimes, filtered map[string]int, last map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	expected = harness.Published{}
	for ch, ids := range p.expected {
		expected[ch] = slices.Clone(ids)
	}
	times = pubTimes{}
	for ch, ts := range p.times {
		times[ch] = slices.Clone(ts)
	}
	filtered = map[string]int{}
	for ch, n := range p.filtered {
		filtered[ch] = n
	}
	last = map[string]int64{}
	for ch, id := range p.last {
		last[ch] = id
	}
	return expected, times, filtered, last
}

// published returns the number of ids to deliver so far.
func (p *publisher) published() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expected.Total()
}
