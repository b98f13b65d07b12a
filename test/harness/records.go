package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Record is one line of a file output written by the pipelines under test:
// {"channel": "/event/Order__e", "replay_id": 1234}.
type Record struct {
	Channel  string `json:"channel"`
	ReplayID int64  `json:"replay_id"`
}

// RecordMapping is the Bloblang mapping that turns a salesforce_streaming
// message into a Record line.
const RecordMapping = `root = {"channel": @salesforce_channel, "replay_id": @salesforce_replay_id.number()}`

// ReadRecords reads a JSON-lines file of Records. A missing file is no
// records. A last line without its newline is ignored when it does not parse:
// a process killed mid-write leaves it, and its event was never acknowledged.
func ReadRecords(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading records: %w", err)
	}
	var out []Record
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil || r.Channel == "" {
			if !complete {
				break
			}
			return out, fmt.Errorf("reading records of %s: line %d %q is not a {channel, replay_id} record", path, n, line)
		}
		out = append(out, r)
	}
	return out, nil
}

// WaitRecords polls a records file until done accepts its records and returns
// them. On timeout it returns the last records read with the error.
func WaitRecords(ctx context.Context, path string, done func([]Record) bool) ([]Record, error) {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		recs, err := ReadRecords(path)
		if err == nil && done(recs) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		select {
		case <-ctx.Done():
			return recs, fmt.Errorf("waiting for records in %s (%d so far): %w", path, len(recs), ctx.Err())
		case <-ticker.C:
		}
	}
}
