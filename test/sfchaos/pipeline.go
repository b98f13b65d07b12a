package main

import (
	"encoding/json"
	"fmt"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// runEnv names the environment variable holding the run number of a
// bin/benthos process; the output sends it in runHeader.
const runEnv = "CHAOS_RUN"

// checkpointKey is the input's checkpoint_cache_key in the soak.
const checkpointKey = "chaos"

// pipelineParams are the parts of the soak's pipeline that vary per soak
// and per run.
type pipelineParams struct {
	EmulatorURL     string
	SinkURL         string
	Channels        []string // as configured
	CheckpointLimit int
	MaxBuffered     int
	Preset          string // replay_preset: earliest for the first run, latest after
	Shape           runShape
	// PubSubAddr, when set, adds a second input, api: pubsub on the
	// emulator's Pub/Sub API there, reading PubSubChannels.
	PubSubAddr     string
	PubSubChannels []string
}

// runShape is what a run's processors do to the input's batches after the
// mapping to records. Shapes that reshape batches are where a nack used to
// be resolved against the wrong messages; the soak varies them per run.
type runShape struct {
	Split   int  // split the batch into batches of this size (0: no split)
	Archive bool // archive each batch into one message of lines
}

func (s runShape) String() string {
	switch {
	case s.Split > 0 && s.Archive:
		return fmt.Sprintf("split %d + archive", s.Split)
	case s.Split > 0:
		return fmt.Sprintf("split %d", s.Split)
	case s.Archive:
		return "archive"
	}
	return "map only"
}

// kind names the shape without its split size.
func (s runShape) kind() string {
	switch {
	case s.Split > 0 && s.Archive:
		return "split + archive"
	case s.Split > 0:
		return "split"
	case s.Archive:
		return "archive"
	}
	return "map only"
}

// processors returns the pipeline's processors: the mapping to records
// (unless the inputs map their own messages), then the shape's reshaping.
func (s runShape) processors(mapped bool) []any {
	procs := []any{}
	if !mapped {
		procs = append(procs, map[string]any{"mapping": harness.RecordMapping})
	}
	if s.Split > 0 {
		procs = append(procs, map[string]any{"split": map[string]any{"size": s.Split}})
	}
	if s.Archive {
		procs = append(procs, map[string]any{"archive": map[string]any{"format": "lines"}})
	}
	return procs
}

// pipelineConfig returns the bin/benthos config of one run (JSON, which is
// YAML): the salesforce_streaming input with short backoff so that it
// recovers in seconds, a mapping to {channel, replay_id} records and the
// run's reshaping processors, and an http_client output to the sink.
//
// One processing thread and one output request in flight: Benthos runs
// batches through parallel threads (the default is one per CPU) and parallel
// requests without keeping their order, and order is checked in every run
// whose output refused nothing.
//
// The output sends one request per batch (the batch archived as lines) and
// does not retry: a request the sink refuses (an outage, or a refusal drawn
// at random) is a nack that reaches the input, which must deliver the whole
// original batch again whatever the processors made of it. Order after a
// nack is not promised (Benthos delivers batches read meanwhile ahead of the
// redelivered one), loss never is.
//
// With Pub/Sub, the input is a broker of two salesforce_streaming inputs, the
// CometD one and an `api: pubsub` one with its own checkpoint key, each
// mapping its messages to records itself (the Pub/Sub records under channels
// of their own); the broker keeps each input's order and routes each nack
// back to the input that read the message.
func pipelineConfig(p pipelineParams) (string, error) {
	input := streamingInput(p)
	mapped := p.PubSubAddr != ""
	if mapped {
		cometd := streamingInput(p)
		cometd["processors"] = []any{map[string]any{"mapping": harness.RecordMapping}}
		pubsub := streamingInput(p)
		conf := pubsub["salesforce_streaming"].(map[string]any)
		conf["api"] = "pubsub"
		conf["pubsub_endpoint"] = p.PubSubAddr
		conf["channels"] = p.PubSubChannels
		conf["checkpoint_cache_key"] = pubsubCheckpointKey
		pubsub["processors"] = []any{map[string]any{"mapping": pubsubRecordMapping}}
		input = map[string]any{"broker": map[string]any{"inputs": []any{cometd, pubsub}}}
	}
	conf := map[string]any{
		"http":             map[string]any{"enabled": false}, // parallel runs would fight over :4195
		"logger":           map[string]any{"level": "INFO", "format": "logfmt", "add_timestamp": true},
		"shutdown_timeout": "5s",
		"input":            input,
		"pipeline": map[string]any{
			"threads":    1, // more threads process batches in parallel and may reorder them
			"processors": p.Shape.processors(mapped),
		},
		"output": map[string]any{
			"http_client": map[string]any{
				"url":           p.SinkURL,
				"verb":          "POST",
				"headers":       map[string]any{runHeader: "${" + runEnv + "}", "Content-Type": "application/x-ndjson"},
				"max_in_flight": 1,
				"timeout":       "5s",
				"retries":       0, // a refused request is a nack for the input, not an internal retry
				"batching": map[string]any{
					"count":      200,
					"period":     "20ms",
					"processors": []any{map[string]any{"archive": map[string]any{"format": "lines"}}},
				},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding the pipeline config: %w", err)
	}
	return string(b) + "\n", nil
}

// streamingInput returns the soak's salesforce_streaming input (CometD): short
// backoff so that it recovers in seconds, small bounds so that an outage
// backs the pipeline up into the client.
func streamingInput(p pipelineParams) map[string]any {
	return map[string]any{
		"salesforce_streaming": map[string]any{
			"org_url":     p.EmulatorURL,
			"api_version": "64.0",
			"auth": map[string]any{
				"grant_type":    "client_credentials",
				"client_id":     harness.EmulatorClientID,
				"client_secret": harness.EmulatorClientSecret,
			},
			"channels":             p.Channels,
			"replay_preset":        p.Preset,
			"checkpoint_cache":     "replay_ids",
			"checkpoint_cache_key": checkpointKey,
			"checkpoint_limit":     p.CheckpointLimit,
			"max_buffered_events":  p.MaxBuffered,
			// Two replicas share the key (replicas.go); a short ttl keeps
			// the standby's takeovers after a kill -9 within seconds.
			"lease":   map[string]any{"ttl": leaseTTL.String()},
			"backoff": soakBackoff,
		},
	}
}

// soakBackoff is the back-off of every input of the soak, the mirror's too:
// short, so that each recovers in seconds.
var soakBackoff = map[string]any{
	"initial_interval": "100ms",
	"max_interval":     "1s",
	"long_interval":    "2s",
}

// redisResources returns the cache resource holding the replay ids.
func redisResources(redisURL string) string {
	return fmt.Sprintf("cache_resources:\n  - label: replay_ids\n    redis:\n      url: %s\n", redisURL)
}
