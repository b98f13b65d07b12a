package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness/fakes3"
)

const s3Bucket = "salesforce-archive"

// TestDestinationS3 runs the destination scenario against an in-memory S3
// (gofakes3) in the test process on a loopback port; its outage closes the
// server and starts it again on the same port with the same objects.
func TestDestinationS3(t *testing.T) {
	runDestination(t, func(t *testing.T, e *env) destination {
		srv, err := fakes3.Start(s3Bucket)
		require.NoError(t, err)
		t.Cleanup(func() { _ = srv.Close() })
		return &s3Dest{srv: srv}
	})
}

// s3Dest is a bucket of objects holding a batch of Record lines each, the
// way users archive a batch into one object.
type s3Dest struct{ srv *fakes3.Server }

func (d *s3Dest) output(t *testing.T) map[string]any {
	return s3Output(d.srv, map[string]any{"count": 20, "period": "100ms"})
}

// s3Output writes each batch as one object of lines at a unique key: a
// counter() key would restart at 1 after a restart and overwrite objects.
func s3Output(srv *fakes3.Server, batching map[string]any) map[string]any {
	batching["processors"] = []any{map[string]any{"archive": map[string]any{"format": "lines"}}}
	return map[string]any{"aws_s3": map[string]any{
		"bucket":                s3Bucket,
		"path":                  `${! uuid_v4() }.jsonl`,
		"content_type":          "application/x-ndjson",
		"endpoint":              srv.Endpoint,
		"force_path_style_urls": true,
		"region":                fakes3.Region,
		"credentials":           map[string]any{"id": fakes3.AccessKeyID, "secret": fakes3.SecretAccessKey},
		"timeout":               "2s",
		"batching":              batching,
	}}
}

func (d *s3Dest) records(t *testing.T) []harness.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	objects, err := d.srv.Objects(ctx, s3Bucket)
	require.NoError(t, err)
	var recs []harness.Record
	for _, obj := range objects {
		for _, line := range bytes.Split(bytes.TrimSpace(obj.Body), []byte("\n")) {
			var r harness.Record
			require.NoError(t, json.Unmarshal(line, &r), "object %s line %q", obj.Key, line)
			recs = append(recs, r)
		}
	}
	return recs
}

func (d *s3Dest) stop(t *testing.T)  { require.NoError(t, d.srv.Stop()) }
func (d *s3Dest) start(t *testing.T) { require.NoError(t, d.srv.Restart()) }
