package input

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableLeaves walks the table: every field with its dotted path.
func tableLeaves(fields []field, prefix string, visit func(path string, f *field)) {
	for k := range fields {
		f := &fields[k]
		if f.kind == kindObject {
			tableLeaves(f.children, prefix+f.name+".", visit)
			continue
		}
		visit(prefix+f.name, f)
	}
}

// withField sets the field at path (one level of object at most) to value
// in agreementBase.
func withField(t *testing.T, path string, value any) string {
	t.Helper()
	raw, err := json.Marshal(value)
	require.NoError(t, err)
	parent, name, nested := strings.Cut(path, ".")
	if nested {
		return add(parent + ": { " + name + ": " + string(raw) + " }")(agreementBase)
	}
	return add(path + ": " + string(raw))(agreementBase)
}

// messagesOf keeps the messages about path (they start with it) and drops
// lint's note on empty values.
func messagesOf(msgs []string, path string) []string {
	var out []string
	for _, m := range msgs {
		if strings.HasPrefix(m, path+" ") || strings.HasPrefix(m, path+":") {
			out = append(out, strings.TrimSuffix(m, msgLintEmptyNote.text))
		}
	}
	slices.Sort(out)
	return out
}

// TestTableChecksSayTheSame runs values of every kind through each field the
// table checks, in Go (configFromParsed) and in the generated lint rule:
// both refuse the same values with the very same words.
func TestTableChecksSayTheSame(t *testing.T) {
	samples := map[fieldKind][]any{
		kindString:   {"", "  ", "x", "64.0", "36.0", "64", "https://acme.my.salesforce.com", "acme.my.salesforce.com", "https://u@acme.com", "https://acme.com?x", "https://acme.com/services/x", "https://ac me.com", "https://acme.com:port", "host:1", "https://host:1", "../x", "a/b", ".x", strings.Repeat("k", 101)},
		kindEnum:     {"", "nope", "  never  ", "latest", "earliest", "fail", "resync", "pubsub", "streaming", "initial", "always", "bulk", "rest", "pass", "fetch", 5},
		kindDuration: {"1s", "0", "0s", "-1s", "soon", "1ms", "99ms", "100ms", "1500ms", "1999ms", "2s", "10m", 5},
		kindAny:      {1, 0, -1, 1.5, "10", "abc", 99999999999999999999.0, []any{1}},
	}
	checked := 0
	tableLeaves(ssiFields, "", func(path string, f *field) {
		if f.check == nil || f.kind == kindBool || f.kind == kindAutoRetryNacks {
			return
		}
		for _, v := range samples[f.kind] {
			checked++
			conf := withField(t, path, v)
			raw, _ := json.Marshal(v)
			t.Run(path+"="+string(raw), func(t *testing.T) {
				lints := messagesOf(lintInput(t, conf), path)
				var goMsgs []string
				pConf, err := parseSpec().ParseYAML(conf, nil)
				if err == nil {
					_, err = configFromParsed(pConf, fstest.MapFS{})
				}
				if err != nil {
					goMsgs = messagesOf(strings.Split(err.Error(), "\n"), path)
				}
				assert.Equal(t, goMsgs, lints, "Go and lint say the same about %s", path)
			})
		}
	})
	require.Greater(t, checked, 100)
}

// parseSpec is the spec built once for the tests that parse configs with it
// (newTestInput too): building it parses the lint rule, which costs more
// than parsing a config.
var parseSpec = sync.OnceValue(spec)

// bloblangStrings finds the string literals of Bloblang (JSON-quoted).
var bloblangStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// TestErrorTextsWrittenOnce: every message of the configuration is written
// in config_messages.go only. The generated lint rule holds no text of more
// than three words that is not a message of the catalog or a value of the
// table, and the input's other Go files repeat no message.
func TestErrorTextsWrittenOnce(t *testing.T) {
	texts := map[string]bool{}
	for _, m := range messageCatalog {
		texts[m.text] = true
	}
	// A message's values come from Go too: the options of enums, the grants,
	// why a floor exists.
	values := map[string]bool{grantNames(): true, orList(bodyShapes): true}
	tableLeaves(ssiFields, "", func(_ string, f *field) {
		values[orList(f.options)] = true
		if d, ok := f.check.(durationCheck); ok {
			values[d.why] = true
		}
	})
	for _, lit := range bloblangStrings.FindAllString(lintRule(), -1) {
		var s string
		require.NoError(t, json.Unmarshal([]byte(lit), &s), lit)
		if strings.Count(s, " ") >= 3 {
			assert.True(t, texts[s] || values[s], "the lint rule writes a text of its own, not from config_messages.go or the table: %q", s)
		}
	}

	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || name == "config_messages.go" {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		for text := range texts {
			// A message is long enough that a word-for-word copy is no accident.
			if len(text) >= 30 {
				assert.NotContains(t, string(src), text, "%s repeats a message of config_messages.go", name)
			}
		}
	}
}

// TestEveryMessageIsUsed: the lint rule says every message but those only
// the constructor can find (files it reads).
func TestEveryMessageIsUsed(t *testing.T) {
	goOnly := map[string]bool{msgRootCAsFilePEM.key: true}
	rule := lintRule()
	for key, m := range messageCatalog {
		if goOnly[key] {
			continue
		}
		assert.Contains(t, rule, blobl(m.text), "message %s is in the lint rule", key)
	}
}

func TestMessageErr(t *testing.T) {
	tests := []struct {
		m    message
		args []any
		want string
	}{
		{msgNotSupported, []any{"api", "grpc", "streaming or pubsub"}, `api "grpc" is not supported: use streaming or pubsub`},
		// A % followed by a space is text, never a verb.
		{msgOrgURLText, []any{"ignored"}, msgOrgURLText.text},
		{msgBackoffOrder, nil, "backoff.max_interval must not be below backoff.initial_interval"},
		{msgBelowFloor, []any{"lease.ttl", "1s", "2s", "why", "extra"}, "lease.ttl 1s is below its floor of 2s: why"},
	}
	for _, tt := range tests {
		t.Run(tt.m.key, func(t *testing.T) {
			assert.EqualError(t, tt.m.err(tt.args...), tt.want)
		})
	}
	assert.Equal(t, 0, msgOrgURLText.arity())
	assert.Equal(t, 4, msgGrantField.arity())
}

// TestTableIsWellFormed: every checked field stores its value, and every
// field is in the spec under its name.
func TestTableIsWellFormed(t *testing.T) {
	conf, err := parseSpec().ParseYAML(agreementBase, nil)
	require.NoError(t, err)
	tableLeaves(ssiFields, "", func(path string, f *field) {
		assert.Equal(t, f.check != nil, f.set != nil, "%s: a field with a check has a setter, and only it", path)
		parent, name, nested := strings.Cut(path, ".")
		if nested {
			assert.True(t, conf.Namespace(parent).Contains(name) || f.def == nil, "%s is in the spec", path)
		} else {
			assert.True(t, conf.Contains(path) || f.def == nil, "%s is in the spec", path)
		}
	})
	var names []string
	for _, f := range ssiFields {
		names = append(names, f.name)
	}
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(names))), len(names), "no field twice")
}
