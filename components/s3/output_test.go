package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	// Bloblang's functions (counter()) and processors (archive) of the
	// configs under test.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness/fakes3"
)

const bucket = "salesforce-archive"

func startFake(t *testing.T) *fakes3.Server {
	t.Helper()
	srv, err := fakes3.Start(bucket)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	return srv
}

// newTestOutput builds and connects an output on the fake with extra YAML
// fields.
func newTestOutput(t *testing.T, srv *fakes3.Server, extra string) *output {
	t.Helper()
	conf := fmt.Sprintf(`
bucket: %s
endpoint: %s
force_path_style_urls: true
region: %s
credentials:
  id: %s
  secret: %s
%s`, bucket, srv.Endpoint, fakes3.Region, fakes3.AccessKeyID, fakes3.SecretAccessKey, extra)
	parsed, err := spec().ParseYAML(conf, nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	require.NoError(t, out.Connect(context.Background()))
	t.Cleanup(func() { assert.NoError(t, out.Close(context.Background())) })
	return out
}

func message(body string, meta map[string]string) *service.Message {
	m := service.NewMessage([]byte(body))
	for k, v := range meta {
		m.MetaSetMut(k, v)
	}
	return m
}

func TestWriteBatch(t *testing.T) {
	srv := startFake(t)
	out := newTestOutput(t, srv, `
path: events/${! @salesforce_channel.trim_prefix("/") }/${! @salesforce_replay_id }.json
content_type: application/json
metadata:
  exclude_prefixes: [internal_]
`)
	ctx := context.Background()
	batch := service.MessageBatch{
		message(`{"id":1}`, map[string]string{"salesforce_channel": "/event/Order__e", "salesforce_replay_id": "1", "internal_x": "no"}),
		message(`{"id":2}`, map[string]string{"salesforce_channel": "/event/Order__e", "salesforce_replay_id": "2"}),
	}
	require.NoError(t, out.WriteBatch(ctx, batch))

	objects, err := srv.Objects(ctx, bucket)
	require.NoError(t, err)
	require.Len(t, objects, 2)
	for i, obj := range objects {
		id := i + 1
		assert.Equal(t, fmt.Sprintf("events/event/Order__e/%d.json", id), obj.Key)
		assert.JSONEq(t, fmt.Sprintf(`{"id":%d}`, id), string(obj.Body))
		assert.Equal(t, "application/json", obj.ContentType)
		assert.Equal(t, "/event/Order__e", metaValue(obj.Metadata, "salesforce_channel"))
		assert.Empty(t, metaValue(obj.Metadata, "internal_x"), "excluded by prefix")
	}
}

// metaValue looks a user metadata key up whatever case the store returns.
func metaValue(meta map[string]string, key string) string {
	for k, v := range meta {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func TestDefaults(t *testing.T) {
	srv := startFake(t)
	out := newTestOutput(t, srv, "")
	ctx := context.Background()
	require.NoError(t, out.WriteBatch(ctx, service.MessageBatch{message("hello", nil)}))
	objects, err := srv.Objects(ctx, bucket)
	require.NoError(t, err)
	require.Len(t, objects, 1)
	assert.Regexp(t, `^1-\d+\.txt$`, objects[0].Key, "Connect's default path")
	assert.Equal(t, "application/octet-stream", objects[0].ContentType)
	assert.Equal(t, "hello", string(objects[0].Body))
}

func TestFailedMessageIsReportedAlone(t *testing.T) {
	srv := startFake(t)
	// The path of a message without @key fails to interpolate.
	out := newTestOutput(t, srv, `path: ${! @key.not_null() }.txt`)
	ctx := context.Background()
	batch := service.MessageBatch{
		message("a", map[string]string{"key": "a"}),
		message("b", nil),
		message("c", map[string]string{"key": "c"}),
	}
	idx := batch.Index() // before the write: it tags the messages the error names
	err := out.WriteBatch(ctx, batch)
	require.Error(t, err)
	var batchErr *service.BatchError
	require.True(t, errors.As(err, &batchErr), "a batch error names the failed messages: %v", err)
	var failed []int
	batchErr.WalkMessagesIndexedBy(idx, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed = append(failed, i)
		}
		return true
	})
	assert.Equal(t, []int{1}, failed)

	objects, err := srv.Objects(ctx, bucket)
	require.NoError(t, err)
	var keys []string
	for _, o := range objects {
		keys = append(keys, o.Key)
	}
	assert.Equal(t, []string{"a.txt", "c.txt"}, keys)
}

func TestOutage(t *testing.T) {
	srv := startFake(t)
	out := newTestOutput(t, srv, `
path: ${! @n }.txt
timeout: 2s
`)
	ctx := context.Background()
	require.NoError(t, out.WriteBatch(ctx, service.MessageBatch{message("1", map[string]string{"n": "1"})}))

	require.NoError(t, srv.Stop())
	require.Error(t, out.WriteBatch(ctx, service.MessageBatch{message("2", map[string]string{"n": "2"})}),
		"an upload while the store is down fails (and nacks)")

	require.NoError(t, srv.Restart())
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		if lastErr = out.WriteBatch(ctx, service.MessageBatch{message("2", map[string]string{"n": "2"})}); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, lastErr)
	objects, err := srv.Objects(ctx, bucket)
	require.NoError(t, err)
	require.Len(t, objects, 2)
	assert.Equal(t, "1", string(objects[0].Body))
	assert.Equal(t, "2", string(objects[1].Body))
}

func TestLint(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want string // "" for no lint
	}{
		{name: "minimal", conf: "bucket: b"},
		{name: "everything implemented", conf: `
bucket: b
path: ${! @k }.json
content_type: application/json
metadata: { exclude_prefixes: [ x_ ] }
region: eu-west-1
endpoint: http://127.0.0.1:9000
force_path_style_urls: true
max_in_flight: 4
timeout: 10s
credentials: { id: a, secret: b, token: c, profile: p, role: r, role_external_id: e }
batching: { count: 10, processors: [ { archive: { format: lines } } ] }`},
		{name: "Connect's object fields", conf: `
bucket: b
tags: { channel: "${! @salesforce_channel }" }
storage_class: GLACIER
kms_key_id: arn:aws:kms:eu-west-1:1:key/k
server_side_encryption: aws:kms
checksum_algorithm: SHA256
object_canned_acl: bucket-owner-full-control
content_encoding: gzip
cache_control: no-cache
content_disposition: attachment
content_language: en
website_redirect_location: /other
tcp: { connect_timeout: 5s }
credentials: { from_ec2_role: true }`},
		{name: "a field Connect does not have", conf: "bucket: b\nacl: private", want: "acl"},
		{name: "an unknown storage class", conf: "bucket: b\nstorage_class: COLD", want: "COLD"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			lints, err := service.GlobalEnvironment().NewComponentConfigLinter().LintOutputYAML([]byte("aws_s3:\n" + indent(test.conf)))
			require.NoError(t, err)
			if test.want == "" {
				assert.Empty(t, lints)
				return
			}
			require.Len(t, lints, 1)
			assert.Contains(t, lints[0].What, test.want)
		})
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ") + "\n"
}

// TestEndpointErrorHidesCredentials: an endpoint that does not parse is named
// by its field; the value, which may carry credentials, is not quoted.
func TestEndpointErrorHidesCredentials(t *testing.T) {
	for _, endpoint := range []string{"http://user:s3cr%zzt@minio.internal:9000", "minio.internal:9000"} {
		parsed, err := spec().ParseYAML(fmt.Sprintf("bucket: b\nendpoint: %q\n", endpoint), nil)
		require.NoError(t, err)
		_, err = newOutput(parsed)
		require.Error(t, err, endpoint)
		assert.Contains(t, err.Error(), "endpoint")
		assert.NotContains(t, err.Error(), "s3cr")
		assert.NotContains(t, err.Error(), "minio.internal")
	}
}

// TestObjectAttributesOnTheWire: Connect's object fields reach S3 as the
// headers of the PutObject request (recorded by a loopback server standing
// in for S3).
func TestObjectAttributesOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("ETag", `"x"`)
	}))
	t.Cleanup(srv.Close)
	conf := fmt.Sprintf(`
bucket: %s
endpoint: %s
force_path_style_urls: true
region: eu-west-1
credentials: { id: a, secret: b }
path: ${! @k }
tags:
  channel: ${! @salesforce_channel }
  kind: "change event"
storage_class: ${! @class }
kms_key_id: arn:aws:kms:eu-west-1:1:key/k
checksum_algorithm: SHA256
object_canned_acl: bucket-owner-full-control
content_encoding: gzip
cache_control: no-cache
content_disposition: attachment
content_language: en
website_redirect_location: /other
tcp: { connect_timeout: 5s }
`, bucket, srv.URL)
	parsed, err := spec().ParseYAML(conf, nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	require.NoError(t, out.Connect(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, out.WriteBatch(ctx, service.MessageBatch{message("{}", map[string]string{"k": "a.json", "salesforce_channel": "/data/X", "class": "STANDARD_IA"})}))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	h := got[0]
	assert.Equal(t, "channel=%2Fdata%2FX&kind=change+event", h.Get("X-Amz-Tagging"))
	assert.Equal(t, "STANDARD_IA", h.Get("X-Amz-Storage-Class"))
	assert.Equal(t, "aws:kms", h.Get("X-Amz-Server-Side-Encryption"), "a KMS key implies aws:kms")
	assert.Equal(t, "arn:aws:kms:eu-west-1:1:key/k", h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"))
	assert.Equal(t, "bucket-owner-full-control", h.Get("X-Amz-Acl"))
	assert.Equal(t, "SHA256", h.Get("X-Amz-Sdk-Checksum-Algorithm"))
	assert.Equal(t, "gzip", h.Get("Content-Encoding"))
	assert.Equal(t, "no-cache", h.Get("Cache-Control"))
	assert.Equal(t, "attachment", h.Get("Content-Disposition"))
	assert.Equal(t, "en", h.Get("Content-Language"))
	assert.Equal(t, "/other", h.Get("X-Amz-Website-Redirect-Location"))

	// A storage class computed per message is checked per message.
	bad := service.MessageBatch{message("{}", map[string]string{"k": "b.json", "class": "COLD"})}
	err = out.WriteBatch(ctx, bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "field storage_class")
}

// TestServerSideEncryptionOverridesTheKMSDefault: server_side_encryption is
// sent as given; an unknown value is a config error naming the field.
func TestServerSideEncryption(t *testing.T) {
	parsed, err := spec().ParseYAML("bucket: b\nserver_side_encryption: AES256\n", nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	in := &s3.PutObjectInput{}
	require.NoError(t, out.object.apply(in, service.MessageBatch{message("{}", nil)}, 0))
	assert.Equal(t, "AES256", string(in.ServerSideEncryption))
	assert.Equal(t, "STANDARD", string(in.StorageClass), "Connect's default storage class")

	parsed, err = spec().ParseYAML("bucket: b\nserver_side_encryption: rot13\n", nil)
	require.NoError(t, err)
	_, err = newOutput(parsed)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "field server_side_encryption")
}

// Connect's documented config block writes an unset endpoint as "".
func TestEmptyEndpointIsUnset(t *testing.T) {
	parsed, err := spec().ParseYAML("bucket: b\nendpoint: \"\"\nregion: \"\"\n", nil)
	require.NoError(t, err)
	out, err := newOutput(parsed)
	require.NoError(t, err)
	assert.Empty(t, out.client.endpoint)
}
