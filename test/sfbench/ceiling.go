package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// ceilingPipeline is what Benthos itself costs for the drain's messages: its `generate` input makes as many
// messages as the backlog holds, in batches of the size the emulator answers with, each with a body of about an
// event's size and the ten metadata keys (and value types) the input sets on a CDC event, into `drop`. No input,
// no network, no checkpoints. generate runs a Bloblang mapping per message, and the mapping's evaluation (ten
// assignments) and the copy of the body into each message are counted in it; the bare variant (ceilingMeta
// left out) makes the same messages without metadata, the framework's own cost per message.
// Placeholders: HTTP address, count, batch size, body (a Bloblang string literal), the metadata (ceilingMeta or
// nothing).
const ceilingPipeline = `# sfbench: the framework ceiling (written by test/sfbench)
http:
  address: %s
logger:
  level: warn
input:
  generate:
    count: %d
    interval: ""
    batch_size: %d
    mapping: |
      root = %s
%soutput:
  drop: {}
`

// ceilingMeta is the metadata of the ceiling's messages. Placeholder: channel (quoted).
const ceilingMeta = `      meta salesforce_channel = %s
      meta salesforce_replay_id = batch_index() + 1000
      meta salesforce_created_date = "2026-01-02T03:04:05.678Z"
      meta salesforce_schema = "IeRuaY6cbI_HsV8Rv1Mc5g"
      meta salesforce_change_type = "UPDATE"
      meta salesforce_entity_name = "Account"
      meta salesforce_commit_timestamp = "2026-01-02T03:04:05.678Z"
      meta salesforce_transaction_key = "001b7375-0086-250e-e6ca-b99bc3a8b69f"
      meta salesforce_commit_user = "005xx000001SvAVAA0"
      meta salesforce_record_ids = [ "001xx000003DGb2AAG" ]
`

// ceilingBatch is the batch size of the ceiling when the emulator's is left at its default (events per connect
// answer).
const ceilingBatch = 1000

// ceilingBody is a JSON document of size bytes shaped like a change event's data.
func ceilingBody(size int) string {
	const head = `{"schema":"IeRuaY6cbI_HsV8Rv1Mc5g","payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001xx000003DGb2AAG"],"changeType":"UPDATE","commitUser":"005xx000001SvAVAA0"},"Description":"`
	const tail = `"},"event":{"replayId":1000}}`
	pad := max(size-len(head)-len(tail), 0)
	return head + strings.Repeat("x", pad) + tail
}

// drainCeiling runs the ceiling pipeline, with the drain's metadata or bare, to its end (Benthos exits once
// generate has made every message and drop has taken them) and measures it from the kernel's account of the
// exited process.
func (b backlogBench) drainCeiling(ctx context.Context, withMeta bool) (drainResult, error) {
	o := b.opts
	dir := filepath.Join(b.dir, "backlog")
	addr, err := harness.FreeAddr()
	if err != nil {
		return drainResult{}, err
	}
	batch := ceilingBatch
	if o.maxBatch > 0 {
		batch = o.maxBatch
	}
	name, meta := "ceiling-bare", ""
	if withMeta {
		name, meta = "ceiling", fmt.Sprintf(ceilingMeta, strconv.Quote(o.channel))
	}
	pipeline := fmt.Sprintf(ceilingPipeline, addr, o.events, batch, strconv.Quote(ceilingBody(o.ceilingBytes)), meta)
	start := time.Now()
	p, err := harness.StartBenthos(harness.BenthosConfig{Dir: dir, Name: name, Pipeline: pipeline})
	if err != nil {
		return drainResult{}, err
	}
	defer p.Close()
	res := drainResult{name: name, events: o.events,
		command: "bin/benthos -c " + b.rel(filepath.Join(dir, name+".pipeline.yaml"))}
	select {
	case <-p.Done():
	case <-ctx.Done():
		return res, fmt.Errorf("waiting for the ceiling pipeline to end: %w\n%s", ctx.Err(), p.Tail(20))
	case <-time.After(o.timeout):
		return res, fmt.Errorf("the ceiling pipeline did not end within %v\n%s", o.timeout, p.Tail(20))
	}
	res.wall = time.Since(start)
	if err := p.ExitErr(); err != nil {
		return res, fmt.Errorf("the ceiling pipeline failed: %w\n%s", err, p.Tail(20))
	}
	ps, ok := p.ExitUsage()
	if !ok {
		return res, fmt.Errorf("no resource usage of the ceiling pipeline's process")
	}
	res.cpu, res.peakRSS = ps.CPU, ps.PeakRSS
	return res, nil
}
