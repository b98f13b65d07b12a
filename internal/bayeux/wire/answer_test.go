package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

func TestChannelKey(t *testing.T) {
	for in, want := range map[string]string{
		"/topic/Invoices?Status__c=Open&Amount__c=1": "/topic/Invoices",
		"/topic/Invoices?":                           "/topic/Invoices",
		"/event/Order__e":                            "/event/Order__e",
		"/data/ChangeEvents":                         "/data/ChangeEvents",
		"?x":                                         "",
		"":                                           "",
	} {
		assert.Equal(t, want, stream.ChannelKey(in), in)
		assert.Equal(t, len(want), stream.KeyLen([]byte(in)), "the same key from an answer's bytes: %s", in)
	}
}
