package wire

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAdviceMerge(t *testing.T) {
	var a Advice
	assert.Equal(t, 110*time.Second+time.Second, a.ConnectTimeout(time.Second), "Salesforce's hold before any advice")
	a.Merge(Advice{Reconnect: "retry", Timeout: 110 * time.Second, hasTimeout: true, hasInterval: true})
	a.Merge(Advice{Reconnect: "handshake"}) // a later advice without timings keeps them
	assert.Equal(t, "handshake", a.Reconnect)
	assert.Equal(t, 125*time.Second, a.ConnectTimeout(15*time.Second), "HTTP timeout above advice.timeout")
	assert.Equal(t, time.Duration(0), a.Interval)
}
