package main

import (
	"encoding/json"
	"fmt"

	"github.com/salesforce-streaming/salesforce_streaming/internal/harness"
)

// runEnv names the environment variable holding the run number of a
// bin/benthos process; the output sends it in runHeader.
const runEnv = "CHAOS_RUN"

// checkpointKey is the input's checkpoint_cache_key in the soak.
const checkpointKey = "chaos"

// pipelineParams are the parts of the soak's pipeline that vary per soak.
type pipelineParams struct {
	EmulatorURL     string
	SinkURL         string
	Channels        []string // as configured
	CheckpointLimit int
	MaxBuffered     int
}

// pipelineConfig returns the bin/benthos config of the soak (JSON, which is
// YAML): the salesforce_streaming input with short backoff so that it
// recovers in seconds, a mapping to {channel, replay_id} records, and an
// http_client output to the sink.
//
// Per-channel order needs one processing thread and one output request in
// flight: Benthos runs batches through parallel threads (the default is one
// per CPU) and parallel requests without keeping their order.
//
// The output sends one request per batch (the batch archived as lines) with
// max_in_flight 1, and retries a failing request itself until the sink takes
// it: while the sink fails, the pipeline backs up to the input (checkpoint
// limit, client buffer, backpressure disconnects) and order is kept. Had the
// error reached the input as a nack instead, Benthos would deliver batches
// read meanwhile ahead of the redelivered one, which is its documented
// at-least-once behaviour and not the input's ordering.
func pipelineConfig(p pipelineParams) (string, error) {
	conf := map[string]any{
		"http":             map[string]any{"enabled": false}, // parallel runs would fight over :4195
		"logger":           map[string]any{"level": "INFO", "format": "logfmt", "add_timestamp": true},
		"shutdown_timeout": "5s",
		"input": map[string]any{
			"salesforce_streaming": map[string]any{
				"org_url":     p.EmulatorURL,
				"api_version": "64.0",
				"auth": map[string]any{
					"grant_type":    "client_credentials",
					"client_id":     harness.EmulatorClientID,
					"client_secret": harness.EmulatorClientSecret,
				},
				"channels":             p.Channels,
				"replay_preset":        "earliest",
				"checkpoint_cache":     "replay_ids",
				"checkpoint_cache_key": checkpointKey,
				"checkpoint_limit":     p.CheckpointLimit,
				"max_buffered_events":  p.MaxBuffered,
				"backoff": map[string]any{
					"initial_interval": "100ms",
					"max_interval":     "1s",
					"long_interval":    "2s",
				},
			},
		},
		"pipeline": map[string]any{
			"threads":    1, // more threads process batches in parallel and may reorder them
			"processors": []any{map[string]any{"mapping": harness.RecordMapping}},
		},
		"output": map[string]any{
			"http_client": map[string]any{
				"url":               p.SinkURL,
				"verb":              "POST",
				"headers":           map[string]any{runHeader: "${" + runEnv + "}", "Content-Type": "application/x-ndjson"},
				"max_in_flight":     1,
				"timeout":           "5s",
				"retries":           1_000_000, // until the sink takes it: an outage lasts seconds
				"retry_period":      "100ms",
				"max_retry_backoff": "1s",
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

// redisResources returns the cache resource holding the replay ids.
func redisResources(redisURL string) string {
	return fmt.Sprintf("cache_resources:\n  - label: replay_ids\n    redis:\n      url: %s\n", redisURL)
}
