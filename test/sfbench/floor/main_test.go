package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLastReplayID(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int64
	}{
		{name: "no events", body: `[{"channel":"/meta/connect","successful":true}]`, want: 0},
		{name: "one event", body: `[{"data":{"event":{"replayId":17}}}]`, want: 17},
		{name: "the last of several", body: `[{"data":{"event":{"replayId":17}}},{"data":{"event":{"replayId":20}}},{"channel":"/meta/connect"}]`, want: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, lastReplayID([]byte(tc.body)))
		})
	}
}
