package input

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

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
