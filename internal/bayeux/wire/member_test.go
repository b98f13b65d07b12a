package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMember(t *testing.T) {
	tests := []struct {
		name, obj, member, want string
		found                   bool
	}{
		{"object value", `{"event":{"replayId":5},"payload":{"A":1,"B":[1,{"c":"}"}]}}`, "payload", `{"A":1,"B":[1,{"c":"}"}]}`, true},
		{"first of two", `{"payload":{"A":1},"payload":{"A":2}}`, "payload", `{"A":1}`, true},
		{"string value", `{"payload":"text \"q\"","event":{}}`, "payload", `"text \"q\""`, true},
		{"white space", " { \"schema\" : \"x\" ,\n \"sobject\" : { \"Id\" : \"a\" } } ", "sobject", `{ "Id" : "a" }`, true},
		{"escaped name", `{"pay\u006coad":[1,2]}`, "payload", `[1,2]`, true},
		{"nested only", `{"event":{"payload":{}}}`, "payload", "", false},
		{"absent", `{"event":{}}`, "payload", "", false},
		{"empty object", `{}`, "payload", "", false},
		{"not an object", `"payload"`, "payload", "", false},
		{"truncated", `{"event":{},"payload":{"A":`, "payload", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := Member([]byte(tt.obj), tt.member)
			assert.Equal(t, tt.found, found)
			assert.Equal(t, tt.want, string(got))
		})
	}
}
