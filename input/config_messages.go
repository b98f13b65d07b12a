package input

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// message is one error text of the configuration, written here once: Go
// formats it with fmt.Errorf, the lint rule with Bloblang's .format (which is
// Go's fmt too), so `benthos lint` and the constructor say the same words.
// The lint rule takes it through a {{msg:key}} placeholder.
type message struct{ key, text string }

// messageCatalog is the messages by key, for the lint rule's placeholders.
var messageCatalog = map[string]message{}

func newMessage(key, text string) message {
	if _, dup := messageCatalog[key]; dup {
		panic("input: message " + key + " defined twice")
	}
	m := message{key, text}
	messageCatalog[key] = m
	return m
}

// verbRE finds a message's formatting verbs. A % followed by a space (as in
// "a % not followed by") is text, not a verb.
var verbRE = regexp.MustCompile(`%[-+#0]*[0-9]*[a-zA-Z]`)

// arity is the number of values the message takes.
func (m message) arity() int { return len(verbRE.FindAllString(m.text, -1)) }

// err is the message with args (as many as it has verbs; extra ones are
// dropped, so a text without a verb is never formatted).
func (m message) err(args ...any) error {
	n := m.arity()
	if n == 0 {
		return errors.New(m.text)
	}
	return fmt.Errorf(m.text, args[:n]...)
}

// Messages of the table's generic checks (config_table.go): the field's path
// comes first.
var (
	msgNotSupported     = newMessage("not_supported", "%s %q is not supported: use %s")
	msgWholeNumber      = newMessage("whole_number", "%s %v must be a whole number of at least 1, e.g. %v")
	msgAtLeastOne       = newMessage("at_least_one", "%s %v must be at least 1, e.g. %v")
	msgPositiveDuration = newMessage("positive_duration", "%s must be a positive duration, e.g. %s")
	msgBelowFloor       = newMessage("below_floor", "%s %s is below its floor of %s: %s")
	msgOffOrAtLeast     = newMessage("off_or_at_least", "%s %q must be a duration of 0 (off) or at least %s, e.g. %s")
	// msgLintEmptyNote follows a required field's message in lint when the
	// field is set but empty.
	msgLintEmptyNote = newMessage("lint_empty_note", " (lint reads an environment variable that is not set where it runs as empty)")
)

// Messages of single fields' checks (config_fields.go).
var (
	msgOrgURLRequired = newMessage("org_url_required", "org_url is required: set the org's My Domain URL, e.g. https://acme.my.salesforce.com")
	msgOrgURLText     = newMessage("org_url_text", "org_url is not a valid URL: it holds white space or a % not followed by two hex digits; write it like https://acme.my.salesforce.com")
	msgOrgURLScheme   = newMessage("org_url_scheme", "org_url %q must be an http(s) URL, e.g. https://acme.my.salesforce.com")
	msgOrgURLPath     = newMessage("org_url_path", "org_url %q must be the base URL without a path like /services/oauth2/token, e.g. https://acme.my.salesforce.com")
	msgOrgURLUser     = newMessage("org_url_user", "org_url must not contain a user name or password: write it like https://acme.my.salesforce.com")
	msgOrgURLQuery    = newMessage("org_url_query", "org_url must not contain a query or fragment: write it like https://acme.my.salesforce.com")
	msgOrgURLHost     = newMessage("org_url_host", "org_url is not a valid URL: write it like https://acme.my.salesforce.com or http://127.0.0.1:7357")

	msgAPIVersionForm = newMessage("api_version_form", `api_version %q is not a Salesforce API version: write it like "`+defaultAPIVersion+`"`)
	msgAPIVersionMin  = newMessage("api_version_min", "api_version %s is below "+strconv.Itoa(minAPIVersion)+`.0, which has no durable replay: use "`+defaultAPIVersion+`" or later`)

	msgEndpointForm = newMessage("endpoint_form", "pubsub_endpoint %q is not host:port: write it like "+defaultPubSubEndpoint+" (no scheme)")

	msgCacheRequired = newMessage("cache_required", "checkpoint_cache is required: name a cache resource (file or redis) that keeps acknowledged replay ids")
	msgKeyEmpty      = newMessage("key_empty", "checkpoint_cache_key must not be empty: use a name unique to this input, e.g. orders")
	msgKeyUnsafe     = newMessage("key_unsafe", "checkpoint_cache_key %q is not a safe key prefix: use 1 to 100 letters, digits, _ . : or -, "+
		"starting with a letter or digit, e.g. orders (it becomes part of cache keys, and of file names in a file cache)")
)

// Messages of the rules (config_rules.go).
var (
	msgGrantUnknown = newMessage("grant_unknown", "auth.grant_type %q is not a supported grant: use one of %s")
	msgGrantField   = newMessage("grant_field", "auth.%s is required for auth.grant_type %s: set it, e.g. auth.%s: ${SF_%s}")
	msgKeyMissing   = newMessage("key_missing", "auth.private_key_file or auth.private_key is required for auth.grant_type jwt_bearer: set one to the RSA key whose certificate is uploaded to the connected app")
	msgKeyBoth      = newMessage("key_both", "auth.private_key_file and auth.private_key are both set: keep only one")

	msgBodyDataPubSub = newMessage("body_data_pubsub", "body: data is the CometD message's data object, which api: pubsub does not have: use body: payload (the default under api: pubsub)")

	msgChannelsEmpty  = newMessage("channels_empty", "channels must list at least one channel, e.g. [/event/Order__e]")
	msgChannelInvalid = newMessage("channel_invalid", "channels: %q is not a channel: a channel starts with /topic/, /u/, /event/ or /data/ followed by a name, e.g. /event/Order__e or /topic/Invoices?Status__c=Open")
	msgChannelFilter  = newMessage("channel_filter", "channels: %q has a filter, which only PushTopic channels accept, written /topic/Name?Field=Value")
	msgChannelPubSub  = newMessage("channel_pubsub", "channels: %s is a %s channel, which api: pubsub cannot subscribe to (the Pub/Sub API serves /event/ and /data/ channels only): use api: streaming for it")
	msgChannelTwice   = newMessage("channel_twice", "channels: %s is listed more than once (filters not counted): subscribe to each channel once per input")
	msgChannelKeyLong = newMessage("channel_key_long", "channels: %s makes a checkpoint key of %d bytes with checkpoint_cache_key %q, above the %d a file name may have: shorten checkpoint_cache_key")

	msgInitialNotObject = newMessage("initial_not_object", "initial_replay_ids must be an object of {channel: replay id}, e.g. {/event/Order__e: 10230}")
	msgInitialUnknown   = newMessage("initial_unknown", "initial_replay_ids: %q is not in channels: list it in channels or remove the entry")
	msgInitialPubSub    = newMessage("initial_pubsub", "initial_replay_ids: %v is not a Pub/Sub replay id: under api: pubsub use the base64 text of an event's salesforce_replay_id, -1 (latest) or -2 (earliest)")
	msgInitialNotID     = newMessage("initial_not_id", "initial_replay_ids: %v is not a replay id: use an event's replay id, -1 (latest) or -2 (earliest)")

	// The proxy URL may embed credentials: the message names the field, never the value.
	msgProxyInvalid = newMessage("proxy_invalid", "proxy_url is not a valid URL: write it like http://proxy.internal:3128")

	msgRootCAs        = newMessage("root_cas", "tls.root_cas holds no PEM certificate: paste the CA certificate including its -----BEGIN CERTIFICATE----- line, or use tls.root_cas_file")
	msgRootCAsFilePEM = newMessage("root_cas_file_pem", "tls.root_cas_file %q holds no PEM certificate: point it to the CA certificate in PEM form")

	msgBackoffOrder = newMessage("backoff_order", "backoff.max_interval must not be below backoff.initial_interval")

	msgObjectsNotMap    = newMessage("objects_not_map", "snapshot.objects must be an object of {Object: [Field, ...]}, e.g. {Account: [Name, Industry]}")
	msgObjectName       = newMessage("object_name", "snapshot.objects: %q is not an object API name: use letters, digits and _, e.g. Account or Invoice__c")
	msgObjectNotList    = newMessage("object_not_list", "snapshot.objects.%s must be a list of field names, e.g. [Name, Industry] ([] for every field)")
	msgObjectFieldName  = newMessage("object_field_name", "snapshot.objects.%s: %v is not a field API name: use letters, digits and _, e.g. Name or Amount__c")
	msgObjectFieldTwice = newMessage("object_field_twice", "snapshot.objects.%s: %s is listed twice")
	msgObjectsEmpty     = newMessage("objects_empty", "snapshot.objects must name at least one object when snapshot.mode is %s, e.g. {Account: [Name, Industry]}")
	msgCDCChannel       = newMessage("cdc_channel", "snapshot and gap_events: fetch need a Change Data Capture channel in channels (/data/...ChangeEvent or /data/ChangeEvents)")
	msgResyncObjects    = newMessage("resync_objects", "on_invalid_replay_id: resync needs snapshot.objects: name the objects to read again, e.g. {Account: [Name, Industry]}")
)

// Messages only the lint rule says (its {{msg:key}} placeholders name them):
// where lint sees a path or an inline value, the constructor reads the file
// or the key itself (sfauth, Benthos' TLS loading), whose errors say why.
var (
	_ = newMessage("key_file_dir", "auth.private_key_file %q is a directory: point it to the PEM key file")
	_ = newMessage("key_not_pem", "auth.private_key holds no PEM key: paste the key including its -----BEGIN PRIVATE KEY----- (or RSA PRIVATE KEY) line")
	_ = newMessage("root_cas_file_dir", "tls.root_cas_file %q is a directory: point it to the PEM file of the CA certificates")
	_ = newMessage("cert_no_key", "tls.client_certs: a cert needs its key")
	_ = newMessage("cert_file_no_key", "tls.client_certs: a cert_file needs its key_file")
	_ = newMessage("cert_not_pem", "tls.client_certs: cert holds no PEM certificate: paste it including its -----BEGIN CERTIFICATE----- line")
	_ = newMessage("cert_key_not_pem", "tls.client_certs: key holds no PEM key: paste it including its -----BEGIN line")
)
