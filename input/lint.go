package input

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// lintRule returns the spec-level Bloblang lint of the whole input config,
// generated from the configuration table (config_fields.go) and the rules
// (config_rules.go): the same checks the constructor runs, with the same
// messages (config_messages.go) and values (sfauth's grants and the fields
// each requires, the patterns, floors and defaults of config.go).
// agreement_test.go runs one table of bad configs through both.
//
// `this` is the config after environment variable substitution, with
// defaults filled in for fields that have one (the auth fields have none, so
// that an absent one shows); fields are still read with .or(default) to be
// safe. Only the constructor can check (agreement_test.go's
// startOnlyConfigs pins what start-up says for each):
//   - an empty value of an auth field: lint sees "${VAR}" as empty where the
//     variable is not set (`benthos lint --skip-env-var-check`), so it
//     reports only absent fields and values of white space only;
//   - that the checkpoint_cache resource exists: a component's lint rule
//     sees the component's config only, not the resources;
//   - files (private_key_file, tls.root_cas_file, client certificate files):
//     lint rules have no file access, and lint may run on another machine;
//     it reports only a path ending in /;
//   - values of the wrong type in Benthos' own typed fields (the bool
//     auto_replay_nacks and tls.enabled): Benthos then skips the whole rule.
//     checkpoint_limit and max_buffered_events are Any fields for this
//     reason, so that the rule sees and reports their type.
//
// Enum fields also get Benthos' own "not a valid option" lint; the messages
// here add the field name and the valid values.
//
// A rule that fails to evaluate reports nothing at all, so every expression
// must hold for values of any type: a comparison only runs after a type
// check (Bloblang's || does not short-circuit errors away).
func lintRule() string {
	var b strings.Builder
	lets, lists := lintFields(ssiFields, "", "this")
	b.WriteString(lets)
	for _, r := range ssiRules {
		if r.lint == "" {
			continue
		}
		b.WriteString(r.lint)
		lists = append(lists, "$"+r.name+"_errs")
	}
	fmt.Fprintf(&b, "\nlet errs = [%s].flatten()\nroot = if $errs.length() > 0 { $errs }\n", strings.Join(lists, ", "))
	return fillLint(b.String())
}

// fillLint replaces the placeholders of the rules' Bloblang: {{msg:key}} by
// the message's text, {{NAME}} by a value of Go. An unknown one panics: the
// rule is built once, when the spec is, and tests build it.
func fillLint(rule string) string {
	grantFields := map[string][]string{}
	for _, g := range sfauth.Grants() {
		fields, _ := sfauth.RequiredFields(g)
		grantFields[string(g)] = fields
	}
	values := map[string]string{
		"DEFAULT_GRANT":     blobl(string(grantClientCredentials)),
		"GRANT_FIELDS":      blobl(grantFields),
		"GRANTS":            blobl(grantNameList()),
		"GRANT_LIST":        blobl(grantNames()),
		"BODY_SHAPES":       blobl(bodyShapes),
		"BODY_LIST":         blobl(orList(bodyShapes)),
		"CHANNEL_RE":        blobl(channelRE.String()),
		"FILTER_RE":         blobl(topicFilterRE.String()),
		"BASE64_RE":         blobl(base64RE.String()),
		"WHOLE_RE":          blobl(wholeRE.String()),
		"SHADOW_LEN":        strconv.Itoa(len(checkpointfmt.ShadowSuffix)),
		"PUBSUB_SUFFIX_LEN": strconv.Itoa(len(checkpointfmt.PubSubKeySuffix)),
		"MAX_KEY_BYTES":     strconv.Itoa(maxKeyBytes),
		"PROXY_RE":          blobl(proxyURLRE.String()),
		"SOBJECT_RE":        blobl(sobjectNameRE.String()),
	}
	return placeholderRE.ReplaceAllStringFunc(rule, func(p string) string {
		name := p[2 : len(p)-2]
		if key, ok := strings.CutPrefix(name, "msg:"); ok {
			m, ok := messageCatalog[key]
			if !ok {
				panic("input: the lint rule names an unknown message " + key)
			}
			return blobl(m.text)
		}
		v, ok := values[name]
		if !ok {
			panic("input: the lint rule names an unknown value " + name)
		}
		return v
	})
}

var placeholderRE = regexp.MustCompile(`\{\{(msg:[a-z_]+|[A-Z_0-9]+)\}\}`)

// blobl writes v as a Bloblang literal: JSON strings, numbers, arrays and
// objects are Bloblang literals too.
func blobl(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep & and < readable in patterns
	if err := enc.Encode(v); err != nil {
		panic(err) // only called with strings, numbers and their maps and slices
	}
	return strings.TrimSuffix(b.String(), "\n")
}
