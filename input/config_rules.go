package input

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// rule is a check that spans fields, or that a field's own check cannot
// make (files, Go's parsers, values whose default depends on another
// field). Its Go check and its Bloblang twin sit side by side; both take
// their texts from config_messages.go. They run after the table's checks,
// in this order, and see what those accepted.
type rule struct {
	// name: the lint rule collects the rule's messages in $<name>_errs.
	name  string
	check func(s *parseState) []error
	// lint is the Bloblang of the same check. It may read the table's
	// values ($v_<field id>, $n_<id> for durations in nanoseconds, $o_<id>
	// for objects, $e_<id> for the field's own messages) and earlier rules'
	// variables. Empty for a check only the constructor can make: the
	// comment says why (agreement_test.go's startOnlyConfigs pins them).
	lint string
}

// parseState is what the rules read and fill.
type parseState struct {
	pConf *service.ParsedConfig
	fsys  fs.FS
	conf  ssiConfig
	// failed holds the paths whose table check refused the value.
	failed map[string]bool
	// seen: the channels listed (without filter), refused ones too, so
	// that initial_replay_ids does not report them again.
	seen map[string]bool
}

// ssiRules are the rules, in the order they run and report.
var ssiRules = []rule{
	// sfauth's own check of what the token source accepts, behind the
	// table's org_url check (which the lint rule runs too).
	{name: "org_url_parse", check: checkOrgURLParses},
	{name: "auth", check: checkAuth, lint: authLint},
	{name: "body", check: checkBody, lint: bodyLint},
	{name: "channels", check: checkChannels, lint: channelsLint},
	{name: "initial", check: checkInitialReplayIDs, lint: initialLint},
	{name: "key_len", check: checkKeyLengths, lint: keyLengthLint},
	{name: "proxy", check: checkProxy, lint: proxyLint},
	{name: "tls", check: checkTLS, lint: tlsLint},
	// Whether the Pub/Sub connection is plaintext: no error to report.
	{name: "pubsub_plaintext", check: setPubSubPlaintext},
	{name: "backoff_order", check: checkBackoffOrder, lint: backoffOrderLint},
	{name: "snapshot", check: checkSnapshot, lint: snapshotLint},
}

func checkOrgURLParses(s *parseState) []error {
	if s.failed[ssiFieldOrgURL] {
		return nil
	}
	if _, err := sfauth.CheckOrgURL(s.conf.Auth.OrgURL); err != nil {
		return []error{err}
	}
	return nil
}

// checkAuth reads the auth object and checks that the grant has its fields
// (sfauth.RequiredFields). Messages never include a field's value: most of
// them are secrets.
func checkAuth(s *parseState) (errs []error) {
	a := &s.conf.Auth
	ns := s.pConf.Namespace(ssiFieldAuth)
	grant, err := readText(ns, ssiFieldGrantType, ssiFieldAuth+"."+ssiFieldGrantType)
	if err != nil {
		errs = append(errs, err)
	}
	a.GrantType = sfauth.GrantType(grant)
	values := map[string]*string{
		ssiFieldClientID:     &a.ClientID,
		ssiFieldClientSecret: &a.ClientSecret,
		ssiFieldUsername:     &a.Username,
		ssiFieldPassword:     &a.Password,
		ssiFieldRefreshToken: &a.RefreshToken,
		ssiFieldAudience:     &a.Audience,
	}
	optional := func(name string) string {
		if !ns.Contains(name) {
			return ""
		}
		v, err := readText(ns, name, ssiFieldAuth+"."+name)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	for name, dst := range values {
		*dst = optional(name)
	}
	keyFile, keyInline := optional(ssiFieldPrivateKeyFile), optional(ssiFieldPrivateKey)

	required, known := sfauth.RequiredFields(a.GrantType)
	if !known {
		return append(errs, msgGrantUnknown.err(a.GrantType, grantNames()))
	}
	for _, name := range required {
		if *values[name] == "" {
			errs = append(errs, msgGrantField.err(name, a.GrantType, name, strings.ToUpper(name)))
		}
	}
	if a.GrantType != grantJWTBearer {
		return errs
	}
	switch {
	case keyFile == "" && keyInline == "":
		errs = append(errs, msgKeyMissing.err())
	case keyFile != "" && keyInline != "":
		errs = append(errs, msgKeyBoth.err())
	case keyFile != "":
		pem, rerr := sfauth.ReadKeyFile(s.fsys, keyFile, ssiFieldAuth+"."+ssiFieldPrivateKeyFile)
		if rerr != nil {
			errs = append(errs, rerr)
		}
		a.PrivateKeyPEM = pem
	default:
		// Environment variables cannot hold newlines in a YAML config, so a
		// key pasted with literal \n sequences is accepted too.
		a.PrivateKeyPEM = []byte(strings.ReplaceAll(keyInline, `\n`, "\n"))
	}
	return errs
}

// authLint: a grant field is unset when absent. An empty value is not
// reported: lint sees configs after environment variable substitution, so
// "client_secret: ${SF_CLIENT_SECRET}" reads as empty when the variable is
// not set where lint runs (Benthos reports the missing variable itself), and
// the input rejects an empty value, naming the field, when it starts. A
// value of white space only is no variable left unset: it is reported (the
// input trims values and finds them empty). Files cannot be read: a key
// file is only refused when its path names a directory.
const authLint = `
let auth = $o_auth
let grant = $auth.grant_type.or({{DEFAULT_GRANT}}).string()
let unset = ["client_id", "client_secret", "username", "password", "private_key_file", "private_key", "refresh_token"].fold({}, acc -> acc.tally.merge({
  (acc.value): !$auth.exists(acc.value) || $auth.get(acc.value) == null
}))
let blank = $unset.keys().filter(f -> !$unset.get(f) && $auth.get(f).type() == "string").filter(f -> $auth.get(f).length() > 0 && $auth.get(f).trim() == "")
let unset = $unset.keys().fold({}, acc -> acc.tally.merge({ (acc.value): $unset.get(acc.value) || $blank.contains(acc.value) }))
let grant_fields = {{GRANT_FIELDS}}.get($grant).or([])
let grant_errs = if {{GRANTS}}.contains($grant) {
  $grant_fields.filter(f -> $unset.get(f)).map_each(f -> {{msg:grant_field}}.format(f, $grant, f, f.uppercase()))
} else {
  [{{msg:grant_unknown}}.format($grant, {{GRANT_LIST}})]
}
let key_file_set = !$unset.get("private_key_file")
let key_set = !$unset.get("private_key")
let key_errs = if $grant != "jwt_bearer" { [] } else if !$key_file_set && !$key_set {
  [{{msg:key_missing}}]
} else if $key_file_set && $key_set {
  [{{msg:key_both}}]
} else if $key_file_set && $auth.private_key_file.string().trim().has_suffix("/") {
  [{{msg:key_file_dir}}.format($auth.private_key_file.string().trim())]
} else if $key_set && $auth.private_key.string().trim() != "" && !$auth.private_key.string().contains("-----BEGIN") {
  [{{msg:key_not_pem}}]
} else { [] }
let auth_errs = [$grant_errs, $key_errs].flatten()
`

// checkBody reads body under api: its default is the api's only shape or,
// under streaming, CometD's data object.
func checkBody(s *parseState) []error {
	api := s.conf.API
	body := bodyData
	if api == apiPubSub {
		body = bodyPayload
	}
	if s.pConf.Contains(ssiFieldBody) {
		v, err := readText(s.pConf, ssiFieldBody, ssiFieldBody)
		if err != nil {
			return []error{err}
		}
		body = bodyShape(v)
	}
	switch {
	case body != bodyData && body != bodyPayload:
		return []error{msgNotSupported.err(ssiFieldBody, body, orList(bodyShapes))}
	case body == bodyData && api == apiPubSub:
		return []error{msgBodyDataPubSub.err()}
	}
	s.conf.Body = body
	return nil
}

const bodyLint = `
let body = this.body.or(if $v_api == "pubsub" { "payload" } else { "data" }).string().trim()
let body_errs = if !{{BODY_SHAPES}}.contains($body) {
  [{{msg:not_supported}}.format("body", $body, {{BODY_LIST}})]
} else if $body == "data" && $v_api == "pubsub" {
  [{{msg:body_data_pubsub}}]
} else { [] }
`

// checkChannels reads channels: each a known kind, a filter on PushTopics
// only, none twice, and under api: pubsub only the kinds it serves.
func checkChannels(s *parseState) (errs []error) {
	channels, err := s.pConf.FieldStringList(ssiFieldChannels)
	if err != nil {
		return append(errs, err)
	}
	if len(channels) == 0 {
		errs = append(errs, msgChannelsEmpty.err())
	}
	pubsubAPI := apiKind(strings.TrimSpace(mustString(s.pConf, ssiFieldAPI))) == apiPubSub
	for _, ch := range channels {
		ch = strings.TrimSpace(ch)
		switch {
		case !channelRE.MatchString(ch):
			errs = append(errs, msgChannelInvalid.err(ch))
			continue
		case strings.Contains(ch, "?") && !topicFilterRE.MatchString(ch):
			errs = append(errs, msgChannelFilter.err(ch))
			continue
		}
		base := channelKey(ch)
		if kind := pubsubRefusedKind(base); kind != "" && pubsubAPI {
			errs = append(errs, msgChannelPubSub.err(base, kind))
			s.seen[base] = true
			continue
		}
		if s.seen[base] {
			errs = append(errs, msgChannelTwice.err(base))
			continue
		}
		s.seen[base] = true
		s.conf.Channels = append(s.conf.Channels, ch)
	}
	return errs
}

const channelsLint = `
let channels = this.channels.or([])
let channel_list = if $channels.type() == "array" { $channels.map_each(c -> c.string().trim()) } else { [] }
let channel_errs = if $channel_list.length() == 0 {
  [{{msg:channels_empty}}]
} else {
  $channel_list.filter(c -> !c.re_match({{CHANNEL_RE}})).map_each(c -> {{msg:channel_invalid}}.format(c)).merge(
    $channel_list.filter(c -> c.contains("?") && !c.re_match({{FILTER_RE}})).map_each(c -> {{msg:channel_filter}}.format(c))
  )
}
let bases = $channel_list.map_each(c -> c.split("?").index(0))
let dup_errs = $bases.filter(b -> $bases.filter(x -> x == b).length() > 1).unique().map_each(b -> {{msg:channel_twice}}.format(b))
let pubsub_channel_errs = if $v_api != "pubsub" { [] } else {
  $bases.filter(b -> b.has_prefix("/topic/") || b.has_prefix("/u/")).map_each(b -> {{msg:channel_pubsub}}.format(b, if b.has_prefix("/topic/") { "PushTopic" } else { "generic streaming" }))
}
let channels_errs = [$channel_errs, $pubsub_channel_errs, $dup_errs].flatten()
`

// checkInitialReplayIDs reads initial_replay_ids: listed channels only;
// under api: pubsub base64 replay ids, else numbers; -1 and -2 under both.
func checkInitialReplayIDs(s *parseState) (errs []error) {
	conf := &s.conf
	raw, err := s.pConf.FieldAny(ssiFieldInitialReplayIDs)
	if err != nil {
		return append(errs, err)
	}
	initial, ok := raw.(map[string]any)
	if !ok && raw != nil {
		return append(errs, msgInitialNotObject.err())
	}
	pubsubAPI := apiKind(strings.TrimSpace(mustString(s.pConf, ssiFieldAPI))) == apiPubSub
	conf.InitialReplayIDs = make(map[string]int64, len(initial))
	conf.InitialPubSubIDs = make(map[string][]byte, len(initial))
	for ch, v := range initial {
		base := channelKey(strings.TrimSpace(ch))
		if !s.seen[base] {
			errs = append(errs, msgInitialUnknown.err(ch))
			continue
		}
		id, isInt := intValue(v)
		switch {
		case isInt && (id == replayLatest || id == replayEarliest):
			conf.InitialReplayIDs[base] = id
		case pubsubAPI:
			text, isText := v.(string)
			decoded, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
			if !isText || derr != nil || len(decoded) == 0 {
				errs = append(errs, msgInitialPubSub.err(v))
				continue
			}
			conf.InitialPubSubIDs[base] = decoded
		case !isInt || id < replayEarliest:
			errs = append(errs, msgInitialNotID.err(v))
		default:
			conf.InitialReplayIDs[base] = id
		}
	}
	return errs
}

const initialLint = `
let initial = this.initial_replay_ids.or({})
let initial_errs = if $initial.type() != "object" {
  [{{msg:initial_not_object}}]
} else {
  $initial.keys().filter(k -> !$bases.contains(k.split("?").index(0))).map_each(k -> {{msg:initial_unknown}}.format(k)).merge(
    if $v_api == "pubsub" {
      $initial.values().filter(v -> if v.type() == "number" { v != -1 && v != -2 } else if v.type() == "string" { !v.trim().re_match({{BASE64_RE}}) } else { true }).map_each(v -> {{msg:initial_pubsub}}.format(v))
    } else {
      $initial.values().filter(v -> if v.type() != "number" { true } else if !v.string().re_match({{WHOLE_RE}}) { true } else { v < -2 }).map_each(v -> {{msg:initial_not_id}}.format(v))
    }
  )
}
`

// checkKeyLengths refuses channels whose checkpoint keys would exceed a file
// name's 255 bytes with a valid checkpoint_cache_key.
func checkKeyLengths(s *parseState) []error {
	if s.failed[ssiFieldCheckpointKey] {
		return nil
	}
	return keyLengthErrs(s.conf.CheckpointKey, s.conf.Channels, s.conf.API)
}

func keyLengthErrs(prefix string, channels []string, api apiKind) (errs []error) {
	for _, ch := range channels {
		key := checkpointfmt.CheckpointKey(prefix, ch)
		if api == apiPubSub {
			key = checkpointfmt.PubSub.Key(prefix, ch)
		}
		if n := len(key + checkpointfmt.ShadowSuffix); n > maxKeyBytes {
			errs = append(errs, msgChannelKeyLong.err(channelKey(ch), n, prefix, maxKeyBytes))
		}
	}
	return errs
}

// keyLengthLint: a channel's checkpoint key is prefix:channel with each /
// escaped as %2F (three bytes), plus the shadow suffix; a file cache makes
// it a file name.
const keyLengthLint = `
let key_prefix = $v_checkpoint_cache_key
let key_len_errs = if $e_checkpoint_cache_key.length() > 0 { [] } else {
  $channel_list.filter(c -> c.re_match({{CHANNEL_RE}})).map_each(c -> c.split("?").index(0)).unique().map_each(b -> {
    "base": b,
    "n": $key_prefix.length() + 1 + b.length() + 2 * (b.split("/").length() - 1) + {{SHADOW_LEN}} + if $v_api == "pubsub" { {{PUBSUB_SUFFIX_LEN}} } else { 0 },
  }).filter(k -> k.n > {{MAX_KEY_BYTES}}).map_each(k -> {{msg:channel_key_long}}.format(k.base, k.n, $key_prefix, {{MAX_KEY_BYTES}}))
}
`

// checkProxy reads proxy_url. The URL may embed proxy credentials: the
// message names the field, never the value.
func checkProxy(s *parseState) []error {
	proxy, err := readText(s.pConf, ssiFieldProxyURL, ssiFieldProxyURL)
	if err != nil || proxy == "" {
		return nil
	}
	u, perr := url.Parse(proxy)
	if perr != nil || u.Scheme == "" || u.Host == "" {
		return []error{msgProxyInvalid.err()}
	}
	s.conf.ProxyURL = u
	return nil
}

// proxyLint: what url.Parse refuses that a regular expression can see.
const proxyLint = `
let proxy = this.proxy_url.or("").string().trim()
let proxy_errs = if $proxy != "" && (!$proxy.re_match({{PROXY_RE}}) || $proxy.re_match("\\s") || $proxy.re_replace_all("%[0-9A-Fa-f]{2}", "").contains("%") || ($proxy.contains("[") && !$proxy.re_match("^[^\\[]*://([^/?#@]*@)?\\[[0-9A-Fa-f:.]+\\]"))) {
  [{{msg:proxy_invalid}}]
} else { [] }
`

// checkTLS reads tls and refuses root CAs without any PEM certificate:
// Benthos ignores such content and keeps an empty pool, which then rejects
// every server with an x509 error that does not say why.
func checkTLS(s *parseState) (errs []error) {
	tlsConf, enabled, err := s.pConf.FieldTLSToggled(ssiFieldTLS)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", ssiFieldTLS, err)}
	}
	if !enabled {
		return nil
	}
	s.conf.TLS = tlsConf
	ns := s.pConf.Namespace(ssiFieldTLS)
	if inline, _ := ns.FieldString("root_cas"); strings.TrimSpace(inline) != "" && !hasPEMCertificate([]byte(inline)) {
		errs = append(errs, msgRootCAs.err())
	}
	if path, _ := ns.FieldString("root_cas_file"); strings.TrimSpace(path) != "" {
		if raw, err := fs.ReadFile(s.fsys, path); err == nil && !hasPEMCertificate(raw) {
			errs = append(errs, msgRootCAsFilePEM.err(path))
		}
	}
	return errs
}

// tlsLint: files cannot be read, so only a path naming a directory is
// refused; inline certificates and keys need their PEM lines.
const tlsLint = `
let tls = if this.tls.type() == "object" { this.tls } else { {} }
let root_cas = $tls.root_cas.or("").string().trim()
let tls_on = $tls.enabled.or(false) == true
let root_cas_errs = if $tls_on && $root_cas != "" && !$root_cas.contains("-----BEGIN CERTIFICATE-----") {
  [{{msg:root_cas}}]
} else { [] }
let root_cas_file = $tls.root_cas_file.or("").string().trim()
let tls_file_errs = if $tls_on && $root_cas_file.has_suffix("/") {
  [{{msg:root_cas_file_dir}}.format($root_cas_file)]
} else { [] }
let client_certs = if $tls_on && $tls.client_certs.type() == "array" { $tls.client_certs.filter(c -> c.type() == "object") } else { [] }
let client_cert_errs = $client_certs.map_each(c -> {
  "cert": c.cert.or("").string().trim(), "key": c.key.or("").string().trim(),
  "cert_file": c.cert_file.or("").string().trim(), "key_file": c.key_file.or("").string().trim(),
}).map_each(c -> if c.cert != "" && c.key == "" {
  {{msg:cert_no_key}}
} else if c.cert_file != "" && c.key_file == "" {
  {{msg:cert_file_no_key}}
} else if c.cert != "" && !c.cert.contains("-----BEGIN") {
  {{msg:cert_not_pem}}
} else if c.key != "" && !c.key.contains("-----BEGIN") {
  {{msg:cert_key_not_pem}}
} else { null }).filter(e -> e != null)
let tls_errs = [$root_cas_errs, $tls_file_errs, $client_cert_errs].flatten()
`

func setPubSubPlaintext(s *parseState) []error {
	if !s.failed[ssiFieldPubSubEndpoint] {
		s.conf.PubSubPlaintext = pubsubPlaintext(s.conf.PubSubEndpoint, s.conf.TLS != nil)
	}
	return nil
}

// checkBackoffOrder: waits grow from initial_interval up to max_interval.
func checkBackoffOrder(s *parseState) []error {
	initial, maxPath := ssiFieldBackoff+"."+ssiFieldBackoffInitial, ssiFieldBackoff+"."+ssiFieldBackoffMax
	if s.failed[initial] || s.failed[maxPath] || s.conf.Backoff.Max >= s.conf.Backoff.Initial {
		return nil
	}
	return []error{msgBackoffOrder.err()}
}

const backoffOrderLint = `
let backoff_order_errs = if $e_backoff_initial_interval.length() == 0 && $e_backoff_max_interval.length() == 0 && $n_backoff_max_interval < $n_backoff_initial_interval {
  [{{msg:backoff_order}}]
} else { [] }
`

// checkSnapshot reads snapshot.objects and checks the snapshot block and
// gap_events against each other, the channels and on_invalid_replay_id.
func checkSnapshot(s *parseState) []error {
	c := &s.conf.CDC
	objects, errs := parseSnapshotObjects(s.pConf.Namespace(ssiFieldSnapshot))
	c.Objects = objects
	modeSet := !s.failed[ssiFieldSnapshot+"."+ssiFieldSnapshotMode]
	if modeSet && c.Mode != snapshotNever && len(c.Objects) == 0 && len(errs) == 0 {
		errs = append(errs, msgObjectsEmpty.err(c.Mode))
	}
	if (c.Mode == snapshotInitial || c.Mode == snapshotAlways || c.Gaps == gapFetch) && !slices.ContainsFunc(s.conf.Channels, isDataChannel) {
		errs = append(errs, msgCDCChannel.err())
	}
	cdcOK := len(errs) == 0 && modeSet && !s.failed[ssiFieldSnapshot+"."+ssiFieldSnapshotMethod] && !s.failed[ssiFieldGapEvents]
	if s.conf.OnInvalidReplayID == onInvalidResync && len(c.Objects) == 0 && cdcOK {
		errs = append(errs, msgResyncObjects.err())
	}
	return errs
}

// parseSnapshotObjects reads snapshot.objects, sorted by name.
func parseSnapshotObjects(snap *service.ParsedConfig) ([]snapshotObject, []error) {
	if !snap.Contains(ssiFieldSnapshotObjects) {
		return nil, nil
	}
	raw, err := snap.FieldAny(ssiFieldSnapshotObjects)
	if err != nil {
		return nil, []error{fmt.Errorf("%s.%s: %w", ssiFieldSnapshot, ssiFieldSnapshotObjects, err)}
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, []error{msgObjectsNotMap.err()}
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	var out []snapshotObject
	for _, name := range names {
		if !sobjectNameRE.MatchString(name) {
			errs = append(errs, msgObjectName.err(name))
			continue
		}
		obj := snapshotObject{Name: name}
		var list []any
		switch v := m[name].(type) {
		case nil:
		case []any:
			list = v
		default:
			errs = append(errs, msgObjectNotList.err(name))
			continue
		}
		for _, f := range list {
			s, ok := f.(string)
			if !ok || !sobjectNameRE.MatchString(s) {
				errs = append(errs, msgObjectFieldName.err(name, f))
				continue
			}
			if slices.ContainsFunc(obj.Fields, func(x string) bool { return strings.EqualFold(x, s) }) {
				errs = append(errs, msgObjectFieldTwice.err(name, s))
				continue
			}
			obj.Fields = append(obj.Fields, s)
		}
		out = append(out, obj)
	}
	return out, errs
}

const snapshotLint = `
let snap_objects = $o_snapshot.objects.or({})
let snap_object_errs = if $snap_objects.type() != "object" {
  [{{msg:objects_not_map}}]
} else {
  $snap_objects.keys().sort().map_each(o -> if !o.re_match({{SOBJECT_RE}}) {
    [{{msg:object_name}}.format(o)]
  } else if ["array", "null"].contains($snap_objects.get(o).type()) {
    $snap_objects.get(o).or([]).filter(f -> if f.type() != "string" { true } else { !f.re_match({{SOBJECT_RE}}) }).map_each(f -> {{msg:object_field_name}}.format(o, f)).merge(
      $snap_objects.get(o).or([]).filter(f -> f.type() == "string").map_each(f -> f.lowercase()).fold({"seen": [], "dups": []}, acc -> if acc.tally.seen.contains(acc.value) { {"seen": acc.tally.seen, "dups": acc.tally.dups.append(acc.value)} } else { {"seen": acc.tally.seen.append(acc.value), "dups": acc.tally.dups} }).dups.unique().map_each(f -> {{msg:object_field_twice}}.format(o, f))
    )
  } else {
    [{{msg:object_not_list}}.format(o)]
  }).flatten()
}
let snap_empty_errs = if ["initial", "always"].contains($v_snapshot_mode) && $snap_objects.type() == "object" && $snap_objects.keys().length() == 0 {
  [{{msg:objects_empty}}.format($v_snapshot_mode)]
} else { [] }
let snap_channel_errs = if (["initial", "always"].contains($v_snapshot_mode) || $v_gap_events == "fetch") && $channel_list.filter(c -> c.type() == "string" && c.has_prefix("/data/")).length() == 0 {
  [{{msg:cdc_channel}}]
} else { [] }
let resync_errs = if $v_on_invalid_replay_id == "resync" && $snap_objects.type() == "object" && $snap_objects.keys().length() == 0 {
  [{{msg:resync_objects}}]
} else { [] }
let snapshot_errs = [$snap_object_errs, $snap_empty_errs, $snap_channel_errs, $resync_errs].flatten()
`
