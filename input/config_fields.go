package input

import (
	"fmt"
	"strings"
	"time"
)

// ssiFields is the input's configuration table: every field once, in the
// order the spec documents them, with what the spec says about it, where
// its value goes in ssiConfig and how it is checked. spec() builds the
// Benthos fields from it, configFromParsed parses and checks with it, and
// lintRule() generates the same checks in Bloblang. Checks that span fields
// (or need a file, or Go's parsers) are the rules of config_rules.go. A new
// field is one entry here (and, if it spans fields, one rule there).
var ssiFields = []field{
	{name: ssiFieldOrgURL, kind: kindString,
		desc:     "Base URL of the OAuth 2.0 token endpoint: the org's My Domain URL (recommended, and required by `client_credentials`), `https://login.salesforce.com` or `https://test.salesforce.com`. Tokens are requested from `{org_url}/services/oauth2/token`; the CometD endpoint is `{instance_url of the token answer}/cometd/{api_version}`.",
		examples: []any{"https://acme.my.salesforce.com"},
		check:    orgURLCheck,
		set:      func(c *ssiConfig, v any) { c.Auth.OrgURL = strings.TrimRight(v.(string), "/") }},
	{name: ssiFieldAPIVersion, kind: kindString, def: defaultAPIVersion,
		desc: "Salesforce API version of the CometD endpoint, written like `\"64.0\"` (quoted, so YAML keeps it a string). Durable replay needs 37.0 or later. The version changes some payload fields, e.g. `EventUuid` of platform events.",
		check: textCheck{steps: []textStep{
			stepNoMatch(apiVersionRE, msgAPIVersionForm),
			stepMajorBelow(minAPIVersion, msgAPIVersionMin),
		}},
		set: func(c *ssiConfig, v any) { c.APIVersion = v.(string) }},
	{name: ssiFieldAPI, kind: kindEnum, options: []string{string(apiStreaming), string(apiPubSub)}, def: string(apiStreaming),
		desc:  "Which Salesforce API the input subscribes with: `streaming` (CometD long polling, every channel kind) or `pubsub` (the Pub/Sub API over gRPC: platform events `/event/` and change events `/data/` only, with flow control that reaches Salesforce). Everything else means the same under both; checkpoints of one API are never read by the other (see docs/pubsub.md).",
		check: enumCheck{},
		set:   func(c *ssiConfig, v any) { c.API = apiKind(v.(string)) }},
	// body: its default depends on api, so the body rule checks it.
	{name: ssiFieldBody, kind: kindEnum, options: bodyShapes, optional: true,
		desc: "What a message's body holds: `data`, the CometD message's whole `data` object (`event`, `schema`, `payload`), or `payload`, the event's payload alone (a PushTopic event's `sobject`). Unset it is `data` under `api: streaming` and `payload` under `api: pubsub`, the only shape the Pub/Sub API has. With `body: payload` a pipeline moves between the APIs by changing `api` alone: bodies and metadata are the same (see docs/pubsub.md)."},
	{name: ssiFieldPubSubEndpoint, kind: kindString, def: defaultPubSubEndpoint, advanced: true,
		desc:  "`host:port` of the Pub/Sub API, used with `api: pubsub`. The connection uses TLS (with the `tls` settings when `tls.enabled`, else the system's roots), except for a loopback host (`localhost`, `127.0.0.0/8`, `::1`) with `tls.enabled: false`, which is plaintext gRPC: an emulator on this machine.",
		check: textCheck{steps: []textStep{stepNoMatch(pubsubEndpointRE, msgEndpointForm)}},
		set:   func(c *ssiConfig, v any) { c.PubSubEndpoint = v.(string) }},
	// auth: every field but grant_type is optional (the auth rule checks
	// which ones a grant needs), so that lint can tell an absent field from
	// one set through an environment variable that is empty where lint runs.
	{name: ssiFieldAuth, kind: kindObject,
		desc: "How the input obtains OAuth 2.0 access tokens. Tokens are re-obtained automatically when Salesforce rejects one (`401::Authentication invalid`).",
		children: []field{
			{name: ssiFieldGrantType, kind: kindEnum, options: grantNameList(), def: string(grantClientCredentials),
				desc: "The OAuth 2.0 flow used to obtain access tokens; see the Authentication section for the fields each grant needs."},
			{name: ssiFieldClientID, kind: kindString, optional: true,
				desc: "Consumer key of the connected app (every grant)."},
			{name: ssiFieldClientSecret, kind: kindString, optional: true, secret: true,
				desc: "Consumer secret of the connected app (`client_credentials`, `password`; optional for `refresh_token`)."},
			{name: ssiFieldUsername, kind: kindString, optional: true,
				desc: "Salesforce user name: the subject of `jwt_bearer`, the login of `password`."},
			{name: ssiFieldPassword, kind: kindString, optional: true, secret: true,
				desc: "Password of the `password` grant, followed directly by the user's security token when the org requires one."},
			{name: ssiFieldPrivateKeyFile, kind: kindString, optional: true,
				desc: "Path of the PEM RSA private key (PKCS#1 or PKCS#8, unencrypted) that signs `jwt_bearer` assertions. Set this or `private_key`."},
			{name: ssiFieldPrivateKey, kind: kindString, optional: true, secret: true,
				desc: "The PEM RSA private key of `jwt_bearer` inline, usually from an environment variable. Set this or `private_key_file`."},
			{name: ssiFieldRefreshToken, kind: kindString, optional: true, secret: true,
				desc: "Refresh token of the `refresh_token` grant."},
			{name: ssiFieldAudience, kind: kindString, optional: true, advanced: true,
				desc: "The `aud` claim of `jwt_bearer` assertions. Empty derives it from `org_url`: `https://login.salesforce.com` for production hosts, `https://test.salesforce.com` for sandboxes, the URL itself for a community."},
		}},
	{name: ssiFieldChannels, kind: kindStringList,
		desc:     "Channels to subscribe to, each at most once per input: PushTopic `/topic/Name` (optionally filtered, `/topic/Name?Field__c=Value`), generic streaming `/u/Name`, platform events `/event/Name__e` and Change Data Capture `/data/ChangeEvents` or `/data/NameChangeEvent`.",
		examples: []any{[]string{"/event/Order__e", "/data/AccountChangeEvent", "/topic/Invoices?Status__c=Open", "/u/Alerts"}}},
	{name: ssiFieldReplayPreset, kind: kindEnum, options: []string{presetLatest, presetEarliest}, def: presetLatest,
		desc:  "Where a channel without a stored checkpoint (and without an `initial_replay_ids` entry) starts: `latest` (-1) receives only new events, `earliest` (-2) every event Salesforce still retains (24 h for PushTopic and generic, 72 h for platform events and CDC).",
		check: enumCheck{},
		set: func(c *ssiConfig, v any) {
			c.ReplayPreset = replayLatest
			if v.(string) == presetEarliest {
				c.ReplayPreset = replayEarliest
			}
		}},
	{name: ssiFieldInitialReplayIDs, kind: kindAny, def: map[string]any{},
		desc:     "Explicit start of channels without a stored checkpoint, as `{channel: replay id}`: delivery starts after that id. Under `api: streaming` a replay id is a number; under `api: pubsub` it is the base64 text of an event's `salesforce_replay_id`. -1 and -2 mean latest and earliest for that channel under both. A stored checkpoint always wins.",
		examples: []any{map[string]any{"/event/Order__e": 10230}, map[string]any{"/event/Order__e": "AAAAAAAAJ/Y="}}},
	{name: ssiFieldOnInvalidReplayID, kind: kindEnum, options: []string{onInvalidEarliest, onInvalidLatest, onInvalidFail, onInvalidResync}, def: onInvalidEarliest,
		desc:  "What happens when Salesforce rejects a channel's start replay id as invalid (older than its retention, or deleted): `earliest` resubscribes from every retained event (no further loss, some events may be gone), `latest` from new events only, `fail` stops consuming and keeps reporting the error until the checkpoint is fixed, `resync` snapshots `snapshot.objects` (a new snapshot generation, see docs/cdc.md) and then streams from every retained event, so that a mirror converges again after downtime past retention. Every occurrence is logged as an error and counted in `salesforce_streaming_replay_fallbacks`. The same applies to every stored replay id after an org migration (Salesforce restarts replay ids), which each start detects by the org's instance name (`SELECT InstanceName FROM Organization`) and counts in `salesforce_streaming_org_migrations`.",
		check: enumCheck{},
		set:   func(c *ssiConfig, v any) { c.OnInvalidReplayID = invalidReplayPolicy(v.(string)) }},
	{name: ssiFieldCheckpointCache, kind: kindString,
		desc:  "Name of a cache resource that stores the replay id of the last acknowledged event of each channel, so that a restart resumes there. Use a durable cache (`file`, `redis`); a `memory` cache forgets on restart and expires entries after 5 minutes by default.",
		check: textCheck{steps: []textStep{stepEmpty(msgCacheRequired)}},
		set:   func(c *ssiConfig, v any) { c.CheckpointCache = v.(string) }},
	{name: ssiFieldCheckpointKey, kind: kindString, def: defaultCheckpointKey,
		desc:  "Key prefix of this input's replay ids in `checkpoint_cache`: 1 to 100 letters, digits, `_`, `.`, `:` or `-`, starting with a letter or digit (it becomes part of file names in a `file` cache, so nothing that could leave its directory is accepted). Each channel is stored under `{checkpoint_cache_key}:{channel, path-escaped}` as decimal text (`{id}@{epoch}` after a replay-id fallback; `start:{id}`, a start marker, before the channel's first acknowledgement; see Delivery guarantees), and again under that key plus `.shadow`, written first: a cache that does not write atomically (the `file` cache) can then be cut mid-write by a crash without losing the position. Under `api: pubsub` the key ends with `@pubsub` and holds `{base64 replay id}@{epoch}`, so the checkpoints of the two APIs never mix. Give every input that shares a cache its own prefix.",
		check: keyPrefixCheck,
		set:   func(c *ssiConfig, v any) { c.CheckpointKey = v.(string) }},
	// Any, not Int: Benthos skips every lint rule of a config with a
	// non-number in an int field, so wholeCheck checks the type.
	{name: ssiFieldCheckpointLimit, kind: kindAny, def: defaultCheckpointLimit,
		desc:  "Maximum number of messages of one channel that may be in flight (received but not yet acknowledged) at once. Reaching it pauses reading; the client keeps polling Salesforce meanwhile (see `max_buffered_events`).",
		check: wholeCheck{},
		set:   func(c *ssiConfig, v any) { c.CheckpointLimit = v.(int) }},
	{name: "auto_replay_nacks", kind: kindAutoRetryNacks,
		check: boolCheck{},
		set:   func(c *ssiConfig, v any) { c.AutoReplayNacks = v.(bool) }},
	// tls: Benthos' own object, read and checked by the tls rule.
	{name: ssiFieldTLS, kind: kindTLS},
	// proxy_url: parsed by the proxy rule (a *url.URL).
	{name: ssiFieldProxyURL, kind: kindString, def: "", advanced: true, secret: true,
		desc: "HTTP proxy for both the token and the CometD requests, e.g. `http://proxy.internal:3128`. Empty uses the `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment variables. It may hold credentials (`http://user:password@proxy.internal:3128`), so it is scrubbed like a secret in `benthos echo`, the streams API and `/debug/config`."},
	{name: ssiFieldMaxBuffered, kind: kindAny, def: defaultMaxBufferedEvents, advanced: true,
		desc:  "Maximum number of events the client holds that the pipeline has not taken yet. The client never stops long-polling because of a slow pipeline (Salesforce expires a client that does not reconnect within 40 s); when this bound is reached it disconnects cleanly and later resubscribes from the last event it queued, so nothing is lost.",
		check: wholeCheck{},
		set:   func(c *ssiConfig, v any) { c.MaxBuffered = v.(int) }},
	{name: ssiFieldLimitsInterval, kind: kindDuration, def: durationText(defaultLimitsInterval), advanced: true,
		desc:  "How often the input reads the org's limits (`/services/data/vXX.X/limits`, one REST request counted in `DailyApiRequests`) and exports the allocations that gate streaming and publishing as `salesforce_org_limit_max{limit}` and `salesforce_org_limit_remaining{limit}`; a limit that falls under 10% remaining is logged as a warning once. `0` turns the reads off; otherwise at least `" + durationText(floorLimitsInterval) + "`. A failing read is logged and never affects streaming.",
		check: durationCheck{floor: floorLimitsInterval, why: floorLimitsWhy, zeroOff: true},
		set:   func(c *ssiConfig, v any) { c.LimitsInterval = v.(time.Duration) }},
	{name: ssiFieldBackoff, kind: kindObject, advanced: true,
		desc: "Reconnection back-off. Reconnection never gives up; every failure is logged with its cause.",
		children: []field{
			{name: ssiFieldBackoffInitial, kind: kindDuration, def: defaultBackoffInitial,
				desc:  "First wait after a failed connection, handshake or long poll, and of a rejected batch's redelivery. At least `" + durationText(floorInitial) + "`.",
				check: durationCheck{floor: floorInitial, liveFloor: liveFloorInitial, why: floorInitialWhy},
				set:   func(c *ssiConfig, v any) { c.Backoff.Initial = v.(time.Duration) }},
			{name: ssiFieldBackoffMax, kind: kindDuration, def: defaultBackoffMax,
				desc:  "Longest wait between reconnection attempts of a failure streak, and between redeliveries of a batch the output keeps rejecting; waits double with jitter up to it. At least `initial_interval`.",
				check: durationCheck{floor: floorInitial, liveFloor: liveFloorInitial, why: floorInitialWhy},
				set:   func(c *ssiConfig, v any) { c.Backoff.Max = v.(time.Duration) }},
			{name: ssiFieldBackoffLong, kind: kindDuration, def: defaultBackoffLong,
				desc:  "Wait after an org limit, a busy server (503), a permission error or a rejected login (at start or when a token is re-obtained mid-session): Salesforce asks for a few minutes, hammering a limit only prolongs it, and every login refused for a password counts toward the user's lockout (10 failed logins by default). At least `" + durationText(floorLong) + "`: jitter halves a wait at most, which keeps refused logins within Salesforce's 3,600 logins per user per hour.",
				check: durationCheck{floor: floorLong, liveFloor: liveFloorLong, why: floorLongWhy},
				set:   func(c *ssiConfig, v any) { c.Backoff.Long = v.(time.Duration) }},
		}},
	// snapshot and gap_events: Change Data Capture convergence (cdc_config.go).
	{name: ssiFieldSnapshot, kind: kindObject,
		desc: "An initial load of the records Change Data Capture will then keep current (docs/cdc.md).",
		children: []field{
			{name: ssiFieldSnapshotMode, kind: kindEnum, options: []string{string(snapshotNever), string(snapshotInitial), string(snapshotAlways)}, def: string(snapshotNever),
				desc:  "When the input reads the current records of `objects` before streaming: `never`; `initial`, when no channel has a stored checkpoint (a first start, or a snapshot that a crash interrupted, which resumes); `always`, at every start. Snapshot records are messages with `salesforce_change_type: SNAPSHOT`, shaped like a change event of the record. The channels then start no later than the snapshot's start, so no change made meanwhile is missed (some arrive twice).",
				check: enumCheck{},
				set:   func(c *ssiConfig, v any) { c.CDC.Mode = snapshotMode(v.(string)) }},
			// objects: read and checked by the snapshot objects rule.
			{name: ssiFieldSnapshotObjects, kind: kindAny, def: map[string]any{},
				desc:     "The objects to snapshot, each with the fields to read: `{Account: [Name, Industry]}`. An empty list reads every field of the object's describe (compound address and location fields excepted: their parts are fields of their own). The same fields serve `gap_events: fetch`.",
				examples: []any{map[string]any{"Account": []any{"Name", "Industry", "BillingCity"}, "Contact": []any{}}}},
			{name: ssiFieldSnapshotMethod, kind: kindEnum, options: []string{string(methodAuto), string(methodBulk), string(methodREST)}, def: string(methodAuto), advanced: true,
				desc:  "How records are read: `rest` (SOQL query pages ordered by Id), `bulk` (a Bulk API 2.0 query job, read page by page) or `auto` (Bulk API 2.0 for an object above " + fmt.Sprint(bulkThreshold) + " records, REST below).",
				check: enumCheck{},
				set:   func(c *ssiConfig, v any) { c.CDC.Method = snapshotMethod(v.(string)) }},
		}},
	{name: ssiFieldGapEvents, kind: kindEnum, options: []string{string(gapPass), string(gapFetch)}, def: string(gapPass),
		desc:  "What happens to Change Data Capture gap events (`GAP_CREATE`, `GAP_UPDATE`, `GAP_DELETE`, `GAP_UNDELETE`, `GAP_OVERFLOW`), which name changed records without their values: `pass` delivers them as received; `fetch` reads the current records (sObject Collections, 2,000 ids a request, with the snapshot's fields) and delivers them whole with `salesforce_gap_resolved: true`, a record that is gone as a delete, and answers an overflow by re-reading the entity's records changed since the event (docs/cdc.md).",
		check: enumCheck{},
		set:   func(c *ssiConfig, v any) { c.CDC.Gaps = gapMode(v.(string)) }},
	// checkpoint_grace_period and lease (lease_config.go).
	{name: ssiFieldCheckpointGrace, kind: kindDuration, def: defaultCheckpointGrace, advanced: true,
		desc:  "How long writes of a channel's checkpoint (or of the lease) may fail before the input stops reading and `/ready` answers 503 naming the channel and the cache. Until then events flow and acknowledged progress waits in memory; `salesforce_streaming_checkpoint_errors` counts every failed write and `salesforce_streaming_checkpoint_age_seconds` how long progress has waited. Reading resumes by itself once writes succeed.",
		check: durationCheck{},
		set:   func(c *ssiConfig, v any) { c.CheckpointGrace = v.(time.Duration) }},
	{name: ssiFieldLease, kind: kindObject, advanced: true,
		desc: "One active subscriber per checkpoint key among replicas (see Delivery guarantees).",
		children: []field{
			{name: ssiFieldLeaseEnabled, kind: kindBool, def: true,
				desc:  "Take a lease in `checkpoint_cache` (under `{checkpoint_cache_key}:lease`) before consuming, so that of several replicas with the same cache and `checkpoint_cache_key` only one consumes; the others stand by (and are ready) and take over within `ttl` plus a few seconds when it dies. A clean shutdown releases the lease at once.",
				check: boolCheck{},
				set:   func(c *ssiConfig, v any) { c.Lease.Enabled = v.(bool) }},
			{name: ssiFieldLeaseTTL, kind: kindDuration, def: defaultLeaseTTL,
				desc:  "How long the lease lasts without renewal. The holder renews every third of it and stops reading a fifth of it before it runs out when it cannot renew. At least 2s.",
				check: durationCheck{floor: minLeaseTTL, why: "the holder must renew and stop well within it, e.g. " + defaultLeaseTTL},
				set:   func(c *ssiConfig, v any) { c.Lease.TTL = v.(time.Duration) }},
		}},
}

// bodyShapes are body's options.
var bodyShapes = []string{string(bodyData), string(bodyPayload)}
