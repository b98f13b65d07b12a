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
		Fields(
			service.NewStringField(ssiFieldOrgURL).
				Description("Base URL of the OAuth 2.0 token endpoint: the org's My Domain URL (recommended, and required by `client_credentials`), `https://login.salesforce.com` or `https://test.salesforce.com`. Tokens are requested from `{org_url}/services/oauth2/token`; the CometD endpoint is `{instance_url of the token answer}/cometd/{api_version}`.").
				Example("https://acme.my.salesforce.com"),
			service.NewStringField(ssiFieldAPIVersion).
				Description("Salesforce API version of the CometD endpoint, written like `\"64.0\"` (quoted, so YAML keeps it a string). Durable replay needs 37.0 or later. The version changes some payload fields, e.g. `EventUuid` of platform events.").
				Default(defaultAPIVersion),
			service.NewStringEnumField(ssiFieldAPI, string(apiStreaming), string(apiPubSub)).
				Description("Which Salesforce API the input subscribes with: `streaming` (CometD long polling, every channel kind) or `pubsub` (the Pub/Sub API over gRPC: platform events `/event/` and change events `/data/` only, with flow control that reaches Salesforce). Everything else means the same under both; checkpoints of one API are never read by the other (see docs/pubsub.md).").
				Default(string(apiStreaming)),
			bodyField(),
			service.NewStringField(ssiFieldPubSubEndpoint).
				Description("`host:port` of the Pub/Sub API, used with `api: pubsub`. The connection uses TLS (with the `tls` settings when `tls.enabled`, else the system's roots), except for a loopback host (`localhost`, `127.0.0.0/8`, `::1`) with `tls.enabled: false`, which is plaintext gRPC: an emulator on this machine.").
				Default(defaultPubSubEndpoint).Advanced(),
			service.NewObjectField(ssiFieldAuth,
				service.NewStringEnumField(ssiFieldGrantType, grantNameList()...).
					Description("The OAuth 2.0 flow used to obtain access tokens; see the Authentication section for the fields each grant needs.").
					Default(string(grantClientCredentials)),
				service.NewStringField(ssiFieldClientID).
					Description("Consumer key of the connected app (every grant).").
					Optional(),
				service.NewStringField(ssiFieldClientSecret).
					Description("Consumer secret of the connected app (`client_credentials`, `password`; optional for `refresh_token`).").
					Optional().Secret(),
				service.NewStringField(ssiFieldUsername).
					Description("Salesforce user name: the subject of `jwt_bearer`, the login of `password`.").
					Optional(),
				service.NewStringField(ssiFieldPassword).
					Description("Password of the `password` grant, followed directly by the user's security token when the org requires one.").
					Optional().Secret(),
				service.NewStringField(ssiFieldPrivateKeyFile).
					Description("Path of the PEM RSA private key (PKCS#1 or PKCS#8, unencrypted) that signs `jwt_bearer` assertions. Set this or `private_key`.").
					Optional(),
				service.NewStringField(ssiFieldPrivateKey).
					Description("The PEM RSA private key of `jwt_bearer` inline, usually from an environment variable. Set this or `private_key_file`.").
					Optional().Secret(),
				service.NewStringField(ssiFieldRefreshToken).
					Description("Refresh token of the `refresh_token` grant.").
					Optional().Secret(),
				service.NewStringField(ssiFieldAudience).
					Description("The `aud` claim of `jwt_bearer` assertions. Empty derives it from `org_url`: `https://login.salesforce.com` for production hosts, `https://test.salesforce.com` for sandboxes, the URL itself for a community.").
					Optional().Advanced(),
			).Description("How the input obtains OAuth 2.0 access tokens. Tokens are re-obtained automatically when Salesforce rejects one (`401::Authentication invalid`)."),
			service.NewStringListField(ssiFieldChannels).
				Description("Channels to subscribe to, each at most once per input: PushTopic `/topic/Name` (optionally filtered, `/topic/Name?Field__c=Value`), generic streaming `/u/Name`, platform events `/event/Name__e` and Change Data Capture `/data/ChangeEvents` or `/data/NameChangeEvent`.").
				Example([]string{"/event/Order__e", "/data/AccountChangeEvent", "/topic/Invoices?Status__c=Open", "/u/Alerts"}),
			service.NewStringEnumField(ssiFieldReplayPreset, presetLatest, presetEarliest).
				Description("Where a channel without a stored checkpoint (and without an `initial_replay_ids` entry) starts: `latest` (-1) receives only new events, `earliest` (-2) every event Salesforce still retains (24 h for PushTopic and generic, 72 h for platform events and CDC).").
				Default(presetLatest),
			service.NewAnyField(ssiFieldInitialReplayIDs).
				Description("Explicit start of channels without a stored checkpoint, as `{channel: replay id}`: delivery starts after that id. Under `api: streaming` a replay id is a number; under `api: pubsub` it is the base64 text of an event's `salesforce_replay_id`. -1 and -2 mean latest and earliest for that channel under both. A stored checkpoint always wins.").
				Example(map[string]any{"/event/Order__e": 10230}).
				Example(map[string]any{"/event/Order__e": "AAAAAAAAJ/Y="}).
				Default(map[string]any{}),
			service.NewStringEnumField(ssiFieldOnInvalidReplayID, onInvalidEarliest, onInvalidLatest, onInvalidFail, onInvalidResync).
				Description("What happens when Salesforce rejects a channel's start replay id as invalid (older than its retention, or deleted): `earliest` resubscribes from every retained event (no further loss, some events may be gone), `latest` from new events only, `fail` stops consuming and keeps reporting the error until the checkpoint is fixed, `resync` snapshots `snapshot.objects` (a new snapshot generation, see docs/cdc.md) and then streams from every retained event, so that a mirror converges again after downtime past retention. Every occurrence is logged as an error and counted in `salesforce_streaming_replay_fallbacks`. The same applies to every stored replay id after an org migration (Salesforce restarts replay ids), which each start detects by the org's instance name (`SELECT InstanceName FROM Organization`) and counts in `salesforce_streaming_org_migrations`.").
				Default(onInvalidEarliest),
			service.NewStringField(ssiFieldCheckpointCache).
				Description("Name of a cache resource that stores the replay id of the last acknowledged event of each channel, so that a restart resumes there. Use a durable cache (`file`, `redis`); a `memory` cache forgets on restart and expires entries after 5 minutes by default."),
			service.NewStringField(ssiFieldCheckpointKey).
				Description("Key prefix of this input's replay ids in `checkpoint_cache`: 1 to 100 letters, digits, `_`, `.`, `:` or `-`, starting with a letter or digit (it becomes part of file names in a `file` cache, so nothing that could leave its directory is accepted). Each channel is stored under `{checkpoint_cache_key}:{channel, path-escaped}` as decimal text (`{id}@{epoch}` after a replay-id fallback; `start:{id}`, a start marker, before the channel's first acknowledgement; see Delivery guarantees), and again under that key plus `.shadow`, written first: a cache that does not write atomically (the `file` cache) can then be cut mid-write by a crash without losing the position. Under `api: pubsub` the key ends with `@pubsub` and holds `{base64 replay id}@{epoch}`, so the checkpoints of the two APIs never mix. Give every input that shares a cache its own prefix.").
				Default(defaultCheckpointKey),
			// Any, not Int: Benthos skips every lint rule of a config with a
			// non-number in an int field, so the rule (lint.go) checks the type.
			service.NewAnyField(ssiFieldCheckpointLimit).
				Description("Maximum number of messages of one channel that may be in flight (received but not yet acknowledged) at once. Reaching it pauses reading; the client keeps polling Salesforce meanwhile (see `max_buffered_events`).").
				Default(defaultCheckpointLimit),
			service.NewAutoRetryNacksToggleField(),
			service.NewTLSToggledField(ssiFieldTLS),
			service.NewStringField(ssiFieldProxyURL).
				Description("HTTP proxy for both the token and the CometD requests, e.g. `http://proxy.internal:3128`. Empty uses the `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment variables. It may hold credentials (`http://user:password@proxy.internal:3128`), so it is scrubbed like a secret in `benthos echo`, the streams API and `/debug/config`.").
				Default("").Advanced().Secret(),
			// Any, not Int: Benthos skips every lint rule of a config with a
			// non-number in an int field, so the rule (lint.go) checks the type.
			service.NewAnyField(ssiFieldMaxBuffered).
				Description("Maximum number of events the client holds that the pipeline has not taken yet. The client never stops long-polling because of a slow pipeline (Salesforce expires a client that does not reconnect within 40 s); when this bound is reached it disconnects cleanly and later resubscribes from the last event it queued, so nothing is lost.").
				Default(defaultMaxBufferedEvents).Advanced(),
			service.NewDurationField(ssiFieldLimitsInterval).
				Description("How often the input reads the org's limits (`/services/data/vXX.X/limits`, one REST request counted in `DailyApiRequests`) and exports the allocations that gate streaming and publishing as `salesforce_org_limit_max{limit}` and `salesforce_org_limit_remaining{limit}`; a limit that falls under 10% remaining is logged as a warning once. `0` turns the reads off; otherwise at least `"+durationText(floorLimitsInterval)+"`. A failing read is logged and never affects streaming.").
				Default(durationText(defaultLimitsInterval)).Advanced(),
			service.NewObjectField(ssiFieldBackoff,
				service.NewDurationField(ssiFieldBackoffInitial).
					Description("First wait after a failed connection, handshake or long poll, and of a rejected batch's redelivery. At least `"+durationText(floorInitial)+"`.").
					Default(defaultBackoffInitial),
				service.NewDurationField(ssiFieldBackoffMax).
					Description("Longest wait between reconnection attempts of a failure streak, and between redeliveries of a batch the output keeps rejecting; waits double with jitter up to it. At least `initial_interval`.").
					Default(defaultBackoffMax),
				service.NewDurationField(ssiFieldBackoffLong).
					Description("Wait after an org limit, a busy server (503), a permission error or a rejected login (at start or when a token is re-obtained mid-session): Salesforce asks for a few minutes, hammering a limit only prolongs it, and every login refused for a password counts toward the user's lockout (10 failed logins by default). At least `"+durationText(floorLong)+"`: jitter halves a wait at most, which keeps refused logins within Salesforce's 3,600 logins per user per hour.").
					Default(defaultBackoffLong),
			).Description("Reconnection back-off. Reconnection never gives up; every failure is logged with its cause.").Advanced(),
		).
		Fields(cdcFields()...).
		Fields(checkpointHealthFields()...).
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
