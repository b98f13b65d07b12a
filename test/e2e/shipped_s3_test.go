package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness/fakes3"
)

// TestShippedConfigS3 runs config/pushtopic_to_s3.yaml as shipped, with the
// file replay-id store of resources/, configured only through environment
// variables, against the emulator and an in-memory S3: every open invoice
// (the PushTopic's filter) and every generic event lands, once, as a line of
// an object under its channel's prefix, with the Salesforce metadata.
func TestShippedConfigS3(t *testing.T) {
	e := newEnv(t, harness.EmulatorConfig{})
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	pipeline, err := os.ReadFile(filepath.Join(root, "config", "pushtopic_to_s3.yaml"))
	require.NoError(t, err)
	resources, err := os.ReadFile(filepath.Join(root, "resources", "replay_ids_file.yaml"))
	require.NoError(t, err)
	e.fileCache() // creates <dir>/replay_ids, where the shipped resource points with SALESFORCE_STREAMING_DATA_DIR

	const bucket = "crm-archive"
	store, err := fakes3.Start(bucket)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })

	// The config subscribes to open invoices only (its channel carries the
	// filter, events arrive labelled with the topic); closed ones are
	// published too, and must not arrive.
	const (
		topic  = "/topic/InvoiceUpdates"
		alerts = "/u/Alerts"
	)
	ledger := harness.NewLedger()
	for round := range 3 {
		open := publishInvoices(t, e, topic, "Open", round, 20)
		ledger.Add(topic, open...)
		publishInvoices(t, e, topic, "Closed", round, 5)
		ids, err := e.emu.PublishIDs(e.ctx, alerts, 20, 1)
		require.NoError(t, err)
		ledger.Add(alerts, ids...)
	}
	want := ledger.Published()

	proc, err := harness.StartBenthos(harness.BenthosConfig{
		Dir:       e.dir,
		Name:      "shipped-s3",
		Pipeline:  string(pipeline),
		Resources: []string{string(resources)},
		Env: []string{
			"SF_ORG_URL=" + e.emu.URL,
			"SALESFORCE_STREAMING_DATA_DIR=" + e.dir,
			"S3_BUCKET=" + bucket,
			"S3_ENDPOINT=" + store.Endpoint,
			"S3_FORCE_PATH_STYLE=true",
			"S3_BATCH_PERIOD=500ms",
			// The SDK's default chain: environment credentials.
			"AWS_REGION=" + fakes3.Region,
			"AWS_ACCESS_KEY_ID=" + fakes3.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + fakes3.SecretAccessKey,
			"AWS_EC2_METADATA_DISABLED=true",
		},
		// The HTTP server's default port would collide with parallel runs.
		Args: []string{"--set", "http.enabled=false"},
	})
	require.NoError(t, err)
	e.cleanupProcess(proc)

	type line struct {
		Channel     string          `json:"channel"`
		ReplayID    int64           `json:"replay_id"`
		CreatedDate string          `json:"created_date"`
		EventType   *string         `json:"event_type"`
		Record      json.RawMessage `json:"record"`
	}
	var recs []harness.Record
	waitDestination(t, e, recordsFunc(func(t *testing.T) []harness.Record {
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		objects, err := store.Objects(ctx, bucket)
		require.NoError(t, err)
		recs = recs[:0]
		for _, obj := range objects {
			assert.Equal(t, "application/x-ndjson", obj.ContentType, "object %s", obj.Key)
			for _, text := range bytes.Split(bytes.TrimSpace(obj.Body), []byte("\n")) {
				var l line
				require.NoError(t, json.Unmarshal(text, &l), "object %s line %q", obj.Key, text)
				prefix := "salesforce/" + map[string]string{topic: "topic_InvoiceUpdates", alerts: "u_Alerts"}[l.Channel] + "/"
				assert.True(t, strings.HasPrefix(obj.Key, prefix), "object %s holds an event of %s: one object, one channel", obj.Key, l.Channel)
				assert.NotEmpty(t, l.CreatedDate, "line %s", text)
				if l.Channel == topic {
					assert.Contains(t, string(l.Record), `"Status__c":"Open"`, "line %s", text)
					assert.NotNil(t, l.EventType, "a PushTopic event has a type: %s", text)
				}
				recs = append(recs, harness.Record{Channel: l.Channel, ReplayID: l.ReplayID})
			}
		}
		return recs
	}), "every event in an object", func(got []harness.Record) bool {
		return harness.Check(want, got).Complete()
	}, proc)
	e.stop(proc)
	report := harness.Check(want, recs)
	t.Logf("%d lines; %s", len(recs), report)
	assert.Empty(t, report.Missing, "%s", report)
	assert.Empty(t, report.Unexpected, "closed invoices are filtered out: %s", report)
	assert.Empty(t, report.Duplicates, "one line per event: %s", report)
}

// publishInvoices publishes n invoices with the given status to the
// PushTopic and returns their replay ids.
func publishInvoices(t *testing.T, e *env, topic, status string, round, n int) []int64 {
	t.Helper()
	payloads := make([]json.RawMessage, n)
	for i := range payloads {
		payloads[i] = json.RawMessage(fmt.Sprintf(`{"Id":"a00D0000008o%03d%02dAA","Name":"INV-%d-%d","Status__c":%q}`, round, i, round, i, status))
	}
	resp, err := e.emu.Publish(e.ctx, harness.PublishRequest{Channel: topic, Payloads: payloads, Gap: 1})
	require.NoError(t, err)
	ids := make([]int64, 0, n)
	for id := resp.FirstReplayID; id <= resp.LastReplayID; id++ {
		ids = append(ids, id)
	}
	require.Len(t, ids, n)
	return ids
}
