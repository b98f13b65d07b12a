package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness/fakes3"
)

// The channels of config/pushtopic_to_s3.yaml.
const (
	archiveTopic  = "/topic/InvoiceUpdates"
	archiveAlerts = "/u/Alerts"
)

// publishArchived publishes, in three rounds, open and closed invoices to
// the PushTopic and generic events to the alerts channel, and returns what
// the config must archive: the config subscribes to open invoices only (its
// channel carries the filter, events arrive labelled with the topic).
func publishArchived(t *testing.T, e *env) harness.Published {
	ledger := harness.NewLedger()
	for round := range 3 {
		open := publishInvoices(t, e, archiveTopic, "Open", round, 20)
		ledger.Add(archiveTopic, open...)
		publishInvoices(t, e, archiveTopic, "Closed", round, 5)
		ids, err := e.emu.PublishIDs(e.ctx, archiveAlerts, 20, 1)
		require.NoError(t, err)
		ledger.Add(archiveAlerts, ids...)
	}
	return ledger.Published()
}

// archivedLine is one line the config writes.
type archivedLine struct {
	Channel     string          `json:"channel"`
	ReplayID    int64           `json:"replay_id"`
	CreatedDate string          `json:"created_date"`
	EventType   *string         `json:"event_type"`
	Record      json.RawMessage `json:"record"`
}

// archivedLines parses the lines of an object or file (where names it) and
// checks each one's fields.
func archivedLines(t *testing.T, where string, body []byte) []harness.Record {
	t.Helper()
	var recs []harness.Record
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	for _, text := range bytes.Split(body, []byte("\n")) {
		var l archivedLine
		require.NoError(t, json.Unmarshal(text, &l), "%s line %q", where, text)
		assert.NotEmpty(t, l.CreatedDate, "line %s", text)
		if l.Channel == archiveTopic {
			assert.Contains(t, string(l.Record), `"Status__c":"Open"`, "line %s", text)
			assert.NotNil(t, l.EventType, "a PushTopic event has a type: %s", text)
		}
		recs = append(recs, harness.Record{Channel: l.Channel, ReplayID: l.ReplayID})
	}
	return recs
}

// assertArchivedOnce checks what pushtopic_to_s3.yaml archived, to S3 or to
// files alike: every wanted event, no closed invoice, one line each.
func assertArchivedOnce(t *testing.T, want harness.Published, got []harness.Record) {
	t.Helper()
	report := harness.Check(want, got)
	t.Logf("%d lines; %s", len(got), report)
	assert.Empty(t, report.Missing, "%s", report)
	assert.Empty(t, report.Unexpected, "closed invoices are filtered out: %s", report)
	assert.Empty(t, report.Duplicates, "one line per event: %s", report)
}

// runPushTopicToS3: config/pushtopic_to_s3.yaml with S3_BUCKET against an
// in-memory S3: every open invoice and every generic event lands, once, as a
// line of an object under its channel's prefix, with the Salesforce metadata.
func runPushTopicToS3(t *testing.T, s *shippedRun) {
	e := s.e
	const bucket = "crm-archive"
	store, err := fakes3.Start(bucket)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })

	want := publishArchived(t, e)
	proc := s.start("shipped-s3",
		"S3_BUCKET="+bucket,
		"S3_ENDPOINT="+store.Endpoint,
		"S3_FORCE_PATH_STYLE=true",
		"S3_BATCH_PERIOD=500ms",
		// The SDK's default chain: environment credentials.
		"AWS_REGION="+fakes3.Region,
		"AWS_ACCESS_KEY_ID="+fakes3.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+fakes3.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	)

	var recs []harness.Record
	waitDestination(t, e, recordsFunc(func(t *testing.T) []harness.Record {
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		objects, err := store.Objects(ctx, bucket)
		require.NoError(t, err)
		recs = recs[:0]
		for _, obj := range objects {
			assert.Equal(t, "application/x-ndjson", obj.ContentType, "object %s", obj.Key)
			for _, r := range archivedLines(t, "object "+obj.Key, obj.Body) {
				prefix := "salesforce/" + map[string]string{archiveTopic: "topic_InvoiceUpdates", archiveAlerts: "u_Alerts"}[r.Channel] + "/"
				assert.True(t, strings.HasPrefix(obj.Key, prefix), "object %s holds an event of %s: one object, one channel", obj.Key, r.Channel)
				recs = append(recs, r)
			}
		}
		return recs
	}), "every event in an object", func(got []harness.Record) bool {
		return harness.Check(want, got).Complete()
	}, proc)
	e.stop(proc)
	assertArchivedOnce(t, want, recs)
	assert.NoDirExists(t, e.path("archive"), "the file output is not built with S3_BUCKET")
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
