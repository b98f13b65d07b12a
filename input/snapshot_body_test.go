package input

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// appendJSONString writes what encoding/json writes (HTML escaping off).
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f", "<a&b>",
		"é ü 日本", "\u2028\u2029", "bad \xff utf8", "\x7f"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(12))
		for k := range b {
			b[k] = byte(rng.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		assert.Equal(t, string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))), string(appendJSONString(nil, s)), "%q", s)
	}
}

func TestTypedValues(t *testing.T) {
	tests := []struct {
		typ, in string
		want    any
	}{
		{"string", "", nil},
		{"boolean", "true", true},
		{"boolean", "false", false},
		{"currency", "1250000.5", json.Number("1250000.5")},
		{"int", "12", json.Number("12")},
		{"double", "n/a", "n/a"},
		{"datetime", "2024-11-07T07:00:00.000+0000", "2024-11-07T07:00:00.000Z"},
		{"datetime", "2024-11-07T07:00:00.000Z", "2024-11-07T07:00:00.000Z"},
		{"date", "2024-11-07", "2024-11-07"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, typedAs(tc.typ, tc.in), "%s %q", tc.typ, tc.in)
	}
}
