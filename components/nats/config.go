// Package nats registers the `nats_jetstream` output: Salesforce events
// published to NATS JetStream subjects over github.com/nats-io/nats.go,
// acknowledged only once JetStream has stored each message (its PubAck).
//
// Its name, fields and defaults are Redpanda Connect's nats_jetstream
// output's, so a pipeline moves between our binary and a Connect build
// unchanged. `batching` is ours: Connect's nats_jetstream has none.
package nats

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

const (
	fieldURLs        = "urls"
	fieldSubject     = "subject"
	fieldHeaders     = "headers"
	fieldMetadata    = "metadata"
	fieldMaxInFlight = "max_in_flight"
	fieldTLS         = "tls"
	fieldAuth        = "auth"

	fieldMaxReconnects     = "max_reconnects"
	fieldTLSHandshakeFirst = "tls_handshake_first"

	fieldAuthNKeyFile      = "nkey_file"
	fieldAuthNKey          = "nkey"
	fieldAuthCredsFile     = "user_credentials_file"
	fieldAuthUserJWT       = "user_jwt"
	fieldAuthUserNKeySeed  = "user_nkey_seed"
	fieldAuthUser          = "user"
	fieldAuthPassword      = "password"
	fieldAuthToken         = "token"
	defaultMaxInFlight     = 1024
	connectionNameFallback = "benthos_nats_jetstream"
)

func spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Publishes messages to NATS JetStream subjects and acknowledges them once JetStream stored them.").
		Description(`
Each message is published to `+"`subject`"+` with the headers of `+"`headers`"+` and the metadata
selected by `+"`metadata`"+`. A message is acknowledged only after JetStream's PubAck, that is after a
stream bound to the subject has stored it; a missing stream, a timeout or a lost connection fails the
message, which Benthos retries. With the salesforce_streaming input this keeps delivery at least once
from Salesforce into JetStream. A stream with a duplicate window de-duplicates redeliveries when each
message carries a `+"`Nats-Msg-Id`"+` header (for example the event's replay id, see the example).

The messages of a batch are published without waiting for each other and then all PubAcks are
awaited, so `+"`batching`"+` raises throughput; `+"`batching`"+` is not a field of Redpanda Connect's
nats_jetstream output.

Credentials can be given in the URL (`+"`nats://user:password@host:4222`"+`) or in `+"`auth`"+`: user and
password, a token, an NKey seed (file or value), a credentials file, or a user JWT with its NKey seed.`).
		Fields(
			service.NewStringListField(fieldURLs).
				Description("URLs of NATS servers. An entry may hold several URLs separated by commas.").
				Example([]string{"nats://127.0.0.1:4222"}).
				Example([]string{"nats://username:password@127.0.0.1:4222"}).
				Secret(), // an entry may hold a password or a token: scrubbed in echo, the streams API and /debug/config
			service.NewInterpolatedStringField(fieldSubject).
				Description("The subject to publish each message to.").
				Example("salesforce.events").
				Example(`salesforce.${! @salesforce_channel.trim_prefix("/").replace_all("/", ".") }`),
			service.NewInterpolatedStringMapField(fieldHeaders).
				Description("Headers to set on each message.").
				Default(map[string]any{}).
				Example(map[string]any{"Content-Type": "application/json", "Nats-Msg-Id": "${! @salesforce_channel }:${! @salesforce_replay_id }"}),
			service.NewMetadataFilterField(fieldMetadata).
				Description("Which metadata keys become message headers. Nothing is sent unless a prefix or pattern matches.").
				Optional(),
			service.NewOutputMaxInFlightField().Default(defaultMaxInFlight),
			service.NewBatchPolicyField(outputconf.FieldBatching),
			service.NewIntField(fieldMaxReconnects).
				Description("How often the client reconnects after losing the server before it gives up for good. "+
					"Unset (or negative): without limit, so that an outage fails writes, retried, rather than ending the output.").
				Optional().
				Advanced(),
			service.NewTLSToggledField(fieldTLS),
			service.NewBoolField(fieldTLSHandshakeFirst).
				Description("Start TLS before the server's INFO message, for servers configured with `handshake_first`.").
				Default(false).
				Advanced(),
			service.NewObjectField(fieldAuth,
				service.NewStringField(fieldAuthNKeyFile).
					Description("A file holding an NKey seed.").Example("./seed.nk").Optional(),
				service.NewStringField(fieldAuthNKey).
					Description("An NKey seed.").Optional().Secret(),
				service.NewStringField(fieldAuthCredsFile).
					Description("A credentials file (a user JWT and its NKey seed), as `nsc` writes them.").Example("./user.creds").Optional(),
				service.NewStringField(fieldAuthUserJWT).
					Description("A user JWT, given with `user_nkey_seed`.").Optional().Secret(),
				service.NewStringField(fieldAuthUserNKeySeed).
					Description("The NKey seed of `user_jwt`.").Optional().Secret(),
				service.NewStringField(fieldAuthUser).
					Description("A user name, given with `password`.").Optional(),
				service.NewStringField(fieldAuthPassword).
					Description("The password of `user`.").Optional().Secret(),
				service.NewStringField(fieldAuthToken).
					Description("A token.").Optional().Secret(),
			).
				Description("Authentication. Give one method.").
				Optional().
				Advanced(),
			service.NewInjectTracingSpanMappingField(),
		).
		Example("Events by channel",
			"One subject per Salesforce channel, the replay id as Nats-Msg-Id so that a stream's duplicate window drops redeliveries.",
			`
output:
  nats_jetstream:
    urls: [ "${NATS_URL:nats://127.0.0.1:4222}" ]
    subject: 'salesforce.${! @salesforce_channel.trim_prefix("/").replace_all("/", ".") }'
    headers:
      Nats-Msg-Id: ${! @salesforce_channel }:${! @salesforce_replay_id }
    metadata:
      include_prefixes: [ salesforce_ ]
`)
}

// config is a parsed nats_jetstream section.
type config struct {
	urls        string // comma-separated, as nats.Connect takes them
	options     []nats.Option
	subject     *service.InterpolatedString
	headers     map[string]*service.InterpolatedString
	metadata    *service.MetadataFilter // nil: no metadata headers
	maxInFlight int
	batching    service.BatchPolicy
}

func parseConfig(conf *service.ParsedConfig, label string) (*config, error) {
	c := &config{}
	urls, err := outputconf.AddressList(conf, fieldURLs, "URL")
	if err != nil {
		return nil, err
	}
	c.urls = strings.Join(urls, ",")
	if c.subject, err = conf.FieldInterpolatedString(fieldSubject); err != nil {
		return nil, err
	}
	if c.headers, err = conf.FieldInterpolatedStringMap(fieldHeaders); err != nil {
		return nil, err
	}
	if conf.Contains(fieldMetadata) {
		if c.metadata, err = conf.FieldMetadataFilter(fieldMetadata); err != nil {
			return nil, err
		}
	}
	if c.batching, c.maxInFlight, err = outputconf.Delivery(conf); err != nil {
		return nil, err
	}
	if label == "" {
		label = connectionNameFallback
	}
	c.options = []nats.Option{
		nats.Name(label),
		// Keep reconnecting while the pipeline runs: an outage fails writes
		// (which Benthos retries), it must not end the connection for good.
		nats.MaxReconnects(-1),
		// No reconnect buffer: a publish while disconnected fails at once
		// (and is retried by Benthos) instead of being sent later, after its
		// PubAck wait already failed it, which would store it twice.
		nats.ReconnectBufSize(-1),
	}
	if conf.Contains(fieldMaxReconnects) {
		n, err := conf.FieldInt(fieldMaxReconnects)
		if err != nil {
			return nil, err
		}
		if n >= 0 { // later options win over the unlimited default above
			c.options = append(c.options, nats.MaxReconnects(n))
		}
	}
	tlsConf, tlsOn, err := conf.FieldTLSToggled(fieldTLS)
	if err != nil {
		return nil, err
	}
	if tlsOn {
		c.options = append(c.options, nats.Secure(tlsConf))
	}
	handshakeFirst, err := conf.FieldBool(fieldTLSHandshakeFirst)
	if err != nil {
		return nil, err
	}
	if handshakeFirst {
		if !tlsOn {
			return nil, fmt.Errorf("field %s: needs tls.enabled: true", fieldTLSHandshakeFirst)
		}
		c.options = append(c.options, nats.TLSHandshakeFirst())
	}
	auth, err := authOptions(conf)
	if err != nil {
		return nil, err
	}
	c.options = append(c.options, auth...)
	return c, nil
}

// authOptions turns the auth section into connection options. Error
// messages name fields, never their values.
func authOptions(conf *service.ParsedConfig) ([]nats.Option, error) {
	if !conf.Contains(fieldAuth) {
		return nil, nil
	}
	a := conf.Namespace(fieldAuth)
	get := func(name string) (string, error) {
		if !a.Contains(name) {
			return "", nil
		}
		return a.FieldString(name)
	}
	values := map[string]string{}
	for _, name := range []string{fieldAuthNKeyFile, fieldAuthNKey, fieldAuthCredsFile, fieldAuthUserJWT,
		fieldAuthUserNKeySeed, fieldAuthUser, fieldAuthPassword, fieldAuthToken} {
		v, err := get(name)
		if err != nil {
			return nil, err
		}
		values[name] = v
	}
	var opts []nats.Option
	methods := 0
	if f := values[fieldAuthNKeyFile]; f != "" {
		methods++
		opt, err := nats.NkeyOptionFromSeed(f)
		if err != nil {
			return nil, fmt.Errorf("field %s.%s: reading the NKey seed file: %w", fieldAuth, fieldAuthNKeyFile, err)
		}
		opts = append(opts, opt)
	}
	if seed := values[fieldAuthNKey]; seed != "" {
		methods++
		opt, err := nkeyFromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("field %s.%s: %w", fieldAuth, fieldAuthNKey, err)
		}
		opts = append(opts, opt)
	}
	if f := values[fieldAuthCredsFile]; f != "" {
		methods++
		opts = append(opts, nats.UserCredentials(f))
	}
	if jwt, seed := values[fieldAuthUserJWT], values[fieldAuthUserNKeySeed]; jwt != "" || seed != "" {
		methods++
		if jwt == "" || seed == "" {
			return nil, fmt.Errorf("fields %s.%s and %s.%s go together", fieldAuth, fieldAuthUserJWT, fieldAuth, fieldAuthUserNKeySeed)
		}
		opts = append(opts, nats.UserJWTAndSeed(jwt, seed))
	}
	if user, pass := values[fieldAuthUser], values[fieldAuthPassword]; user != "" || pass != "" {
		methods++
		if user == "" || pass == "" {
			return nil, fmt.Errorf("fields %s.%s and %s.%s go together", fieldAuth, fieldAuthUser, fieldAuth, fieldAuthPassword)
		}
		opts = append(opts, nats.UserInfo(user, pass))
	}
	if token := values[fieldAuthToken]; token != "" {
		methods++
		opts = append(opts, nats.Token(token))
	}
	if methods > 1 {
		return nil, fmt.Errorf("field %s: give one authentication method, got %d", fieldAuth, methods)
	}
	return opts, nil
}
