package input

import (
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Field names of the input's configuration. They are a contract: users' YAML,
// docs and lint messages use them.
const (
	ssiFieldOrgURL            = "org_url"
	ssiFieldAPIVersion        = "api_version"
	ssiFieldAPI               = "api"
	ssiFieldPubSubEndpoint    = "pubsub_endpoint"
	ssiFieldAuth              = "auth"
	ssiFieldGrantType         = "grant_type"
	ssiFieldClientID          = "client_id"
	ssiFieldClientSecret      = "client_secret"
	ssiFieldUsername          = "username"
	ssiFieldPassword          = "password"
	ssiFieldPrivateKeyFile    = "private_key_file"
	ssiFieldPrivateKey        = "private_key"
	ssiFieldRefreshToken      = "refresh_token"
	ssiFieldAudience          = "audience"
	ssiFieldChannels          = "channels"
	ssiFieldReplayPreset      = "replay_preset"
	ssiFieldInitialReplayIDs  = "initial_replay_ids"
	ssiFieldOnInvalidReplayID = "on_invalid_replay_id"
	ssiFieldCheckpointCache   = "checkpoint_cache"
	ssiFieldCheckpointKey     = "checkpoint_cache_key"
	ssiFieldCheckpointLimit   = "checkpoint_limit"
	ssiFieldTLS               = "tls"
	ssiFieldProxyURL          = "proxy_url"
	ssiFieldMaxBuffered       = "max_buffered_events"
	ssiFieldBackoff           = "backoff"
	ssiFieldBackoffInitial    = "initial_interval"
	ssiFieldBackoffMax        = "max_interval"
	ssiFieldBackoffLong       = "long_interval"
	ssiFieldLimitsInterval    = "limits_interval"
	ssiFieldBody              = "body"
)

// Enum values and defaults. Grants and the defaults of what the client and the
// token source do are theirs: the spec documents the values they use.
const (
	grantClientCredentials = sfauth.GrantClientCredentials
	grantJWTBearer         = sfauth.GrantJWTBearer
	grantRefreshToken      = sfauth.GrantRefreshToken
	grantPassword          = sfauth.GrantPassword

	presetLatest   = "latest"
	presetEarliest = "earliest"

	onInvalidEarliest = "earliest"
	onInvalidLatest   = "latest"
	onInvalidFail     = "fail"
	onInvalidResync   = "resync"

	apiStreaming apiKind = "streaming"
	apiPubSub    apiKind = "pubsub"

	minAPIVersion          = 37 // first version with durable replay at /cometd/<v>
	defaultCheckpointKey   = "salesforce_streaming"
	defaultCheckpointLimit = 1024
)

// The backoff defaults as the spec and messages write them.
var (
	defaultBackoffInitial = durationText(stream.DefaultBackoffInitial)
	defaultBackoffMax     = durationText(stream.DefaultBackoffMax)
	defaultBackoffLong    = durationText(stream.DefaultBackoffLong)
)

// durationText writes d the way a user would: whole minutes from two minutes
// up ("2m"), else whole seconds ("60s"), else Go's notation ("100ms").
func durationText(d time.Duration) string {
	switch {
	case d >= 2*time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// spec is the input's configuration spec: fields, docs, examples and the
// lint rules that catch at `benthos lint` time what can be caught.
func spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Consumes Salesforce Streaming API channels (PushTopic, generic streaming, platform events and Change Data Capture) over CometD, with at-least-once delivery backed by replay ids stored in a cache resource.").
		Description(specDescription).
		Fields(specFields(ssiFields)...).
		LintRule(lintRule()).
		Example("Platform events with client credentials",
			"Consume a platform event and a CDC channel with the client credentials flow, keeping replay ids in a file cache so that restarts resume where they stopped.",
			`
input:
  label: orders
  salesforce_streaming:
    org_url: https://acme.my.salesforce.com
    auth:
      grant_type: client_credentials
      client_id: ${SF_CLIENT_ID}
      client_secret: ${SF_CLIENT_SECRET}
    channels: [ /event/Order__e, /data/AccountChangeEvent ]
    replay_preset: earliest
    checkpoint_cache: replay_ids

cache_resources:
  - label: replay_ids
    file:
      directory: ./replay_ids
`).
		Example("PushTopic with JWT bearer and Redis",
			"Consume a filtered PushTopic with the JWT bearer flow; replay ids live in Redis so that any host can take over the input.",
			`
input:
  salesforce_streaming:
    org_url: https://login.salesforce.com
    auth:
      grant_type: jwt_bearer
      client_id: ${SF_CLIENT_ID}
      username: integration@acme.com
      private_key_file: /etc/salesforce/server.key
    channels: [ "/topic/Invoices?Status__c=Open" ]
    checkpoint_cache: replay_ids
    checkpoint_cache_key: invoices

cache_resources:
  - label: replay_ids
    redis:
      url: redis://localhost:6379
`).
		Example("Generic streaming with username and password",
			"The password grant of older integrations: the password field is the password followed by the security token.",
			`
input:
  salesforce_streaming:
    org_url: https://test.salesforce.com
    api_version: "64.0"
    auth:
      grant_type: password
      client_id: ${SF_CLIENT_ID}
      client_secret: ${SF_CLIENT_SECRET}
      username: ${SF_USERNAME}
      password: ${SF_PASSWORD_AND_TOKEN}
    channels: [ /u/Alerts ]
    checkpoint_cache: replay_ids

cache_resources:
  - label: replay_ids
    file:
      directory: ./replay_ids
`)
}

// grantNameList is sfauth's grants as enum options.
func grantNameList() []string {
	var names []string
	for _, g := range sfauth.Grants() {
		names = append(names, string(g))
	}
	return names
}

// specDescription is the long documentation of the input.
const specDescription = `
This input subscribes to Salesforce's Streaming API (CometD long polling) and emits every data message of its
channels as a Benthos message. Meta messages (handshake, connect, subscribe) stay inside the client.

With ` + "`api: pubsub`" + ` it subscribes through Salesforce's Pub/Sub API (gRPC) instead, to platform events and change
events only, with the same guarantees, metadata keys and settings; see docs/pubsub.md for the differences
(checkpoints, message bodies, flow control).

== Authentication

Create a connected app (or external client app) with the ` + "`api`" + ` scope and pick one grant in ` + "`auth.grant_type`" + `:

- ` + "`client_credentials`" + `: ` + "`client_id`" + ` and ` + "`client_secret`" + `. Enable the client credentials flow on the app and
  give it a run-as user. Only works against the org's My Domain URL, not login.salesforce.com.
- ` + "`jwt_bearer`" + `: ` + "`client_id`" + `, ` + "`username`" + ` and the RSA key whose certificate is uploaded to the app, as
  ` + "`private_key_file`" + ` or inline ` + "`private_key`" + `. The user must be pre-authorised for the app.
- ` + "`refresh_token`" + `: ` + "`client_id`" + `, ` + "`refresh_token`" + ` (and ` + "`client_secret`" + ` when the app requires it).
- ` + "`password`" + `: ` + "`client_id`" + `, ` + "`client_secret`" + `, ` + "`username`" + ` and ` + "`password`" + `, the latter being the
  password followed by the security token. Salesforce is retiring this flow; prefer another.

The user needs the "API Enabled" and "Streaming API" permissions, read access to the PushTopic or event, and
"View All Data" (or the object's permissions) for Change Data Capture. Tokens are re-obtained when Salesforce
rejects one. Authentication and permission errors are reported in Salesforce's words (for example
` + "`invalid_grant: authentication failure`" + `) and retried with a long back-off, because they do not fix themselves.
Secrets are never logged nor shown by ` + "`benthos echo`" + `.

== Delivery guarantees

Delivery is at least once, per channel in replay order, across crashes, restarts, session loss and token
revocation. The replay id of an event is written to ` + "`checkpoint_cache`" + ` only after every message up to it on its
channel was acknowledged by the output; on start each channel resumes after its stored replay id, else after its
` + "`initial_replay_ids`" + ` entry, else at ` + "`replay_preset`" + `. Cache writes happen in the background and are coalesced,
so the cache never slows the stream down; on shutdown the latest acknowledged ids are flushed.

A message rejected by the output (a nack) makes the input send its whole batch again, whatever processors did to
it: a ` + "`split`" + `, ` + "`archive`" + ` or ` + "`group_by_value`" + ` may turn one input batch into many messages or many
batches into one, and the input cannot tell which of the events behind a rejected message went through, so it
redelivers them all, rebuilt from the events with their metadata, ahead of new data and after a back-off that grows
with the batch's rejections (` + "`backoff.initial_interval`" + ` up to ` + "`backoff.max_interval`" + `). The checkpoint of a batch
moves only once every message derived from it was acknowledged without error.

Duplicates happen for events in flight at a crash or cut (received, not yet acknowledged, or acknowledged but
not yet written), and for the other events of a batch one of whose messages was rejected: each rejection may
deliver up to one input batch again (at most the server's batch size, a few hundred events). Deduplicate downstream
by channel and replay id, or ` + "`salesforce_event_uuid`" + ` for platform events. With ` + "`auto_replay_nacks: false`" + ` a
rejected batch is dropped instead (Benthos' documented opt-in) and the checkpoint moves past it.

Salesforce retains events for 24 hours (PushTopic, generic) or 72 hours (platform events, CDC). A stored replay id
older than that is rejected; ` + "`on_invalid_replay_id`" + ` decides what follows, always with an error log and a metric.
A fallback to ` + "`earliest`" + ` or ` + "`latest`" + ` starts a new checkpoint epoch for the channel: the ids Salesforce serves
then may be lower than the refused one (a sandbox refresh, an org migration), so the first id acknowledged after
the fallback replaces the stored one, stored as ` + "`{id}@{epoch}`" + `; within an epoch the stored id only moves forward.
A restart after it resumes after the last acknowledged event. A crash before that first write only repeats the
fallback.
Use a durable cache: a ` + "`memory`" + ` cache loses replay ids on restart and expires them after 5 minutes by default.

Reading pauses while a channel has ` + "`checkpoint_limit`" + ` messages unacknowledged, which pauses every channel of the
input. An output batching policy must therefore flush before that many messages pile up: keep its ` + "`count`" + `
below ` + "`checkpoint_limit`" + ` or give it a ` + "`period`" + `.

A slow pipeline never stalls the long poll: the client buffers up to ` + "`max_buffered_events`" + ` events, then
disconnects cleanly and resubscribes later from the last event it queued. Shutdown sends ` + "`/meta/disconnect`" + `
(freeing the org's concurrent-client slot) and returns within seconds even while a long poll is pending.

== Metadata

Each message's body is the event's ` + "`data`" + ` object exactly as Salesforce sent it. Metadata:

- ` + "`salesforce_channel`" + `: the channel of the event, without a PushTopic filter.
- ` + "`salesforce_replay_id`" + `: the event's replay id (an integer).
- ` + "`salesforce_created_date`" + `: creation time as RFC 3339 (` + "`event.createdDate`" + `, ` + "`payload.CreatedDate`" + ` or the CDC commit time).
- ` + "`salesforce_event_type`" + `: PushTopic event type (` + "`created`" + `, ` + "`updated`" + `, ` + "`deleted`" + `, ` + "`undeleted`" + `).
- ` + "`salesforce_event_uuid`" + `: platform event UUID, when present.
- ` + "`salesforce_schema`" + `: schema id of platform and change events.
- ` + "`salesforce_change_type`" + `, ` + "`salesforce_entity_name`" + `, ` + "`salesforce_record_ids`" + ` (an array), ` + "`salesforce_commit_timestamp`" + `
  (RFC 3339), ` + "`salesforce_transaction_key`" + `, ` + "`salesforce_commit_user`" + `: Change Data Capture header fields.

Fields an event does not carry are not set.

Under ` + "`api: pubsub`" + ` the body is the event's payload decoded from Avro to the JSON a CometD subscriber receives as
` + "`payload`" + ` (change event bitmaps decoded to field names), ` + "`salesforce_replay_id`" + ` is the replay id's opaque bytes
as base64 text, and two keys are added: ` + "`salesforce_event_id`" + ` (the event's id; a platform event's is also its
` + "`salesforce_event_uuid`" + `) and ` + "`salesforce_schema_id`" + ` (the Avro schema id, also in ` + "`salesforce_schema`" + `). A
payload that does not decode is delivered with its Avro bytes as body and ` + "`salesforce_decode_error`" + ` set.

== Scaling

Salesforce delivers every event to every subscriber; there are no consumer groups, so two instances on the same
channel receive everything twice. Scale by giving each instance its own channels and its own
` + "`checkpoint_cache_key`" + `, with the replay ids in a shared cache such as Redis, and write into a distributed log
(Kafka/Redpanda, NATS JetStream) from which any number of consumers read. Every input holds one CometD client,
which counts against the org's concurrent-client limit.

== Metrics

- ` + "`salesforce_streaming_events_received`" + ` (label ` + "`channel`" + `): events received from Salesforce.
- ` + "`salesforce_streaming_reconnects`" + ` (label ` + "`reason`" + `): re-handshakes and reconnections, by cause.
- ` + "`salesforce_streaming_token_refreshes`" + `: access tokens re-obtained after a rejection.
- ` + "`salesforce_streaming_replay_fallbacks`" + ` (label ` + "`channel`" + `): start replay ids rejected as invalid.
- ` + "`salesforce_streaming_checkpoint_lag`" + ` (gauge, label ` + "`channel`" + `): messages received but not yet acknowledged.
- ` + "`salesforce_streaming_events_dropped`" + ` (labels ` + "`channel`" + `, ` + "`reason`" + `): events received but not handed on because the
  server sent them malformed: ` + "`replay_id_not_increasing`" + ` (a repeat or a step back within the channel),
  ` + "`invalid_replay_id`" + `, ` + "`unknown_channel`" + ` or ` + "`missing_channel`" + ` (channel label empty). Each is also logged as a warning.
`
