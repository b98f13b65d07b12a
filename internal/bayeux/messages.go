package bayeux

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fastjson"
)

// Bayeux meta channels.
const (
	channelHandshake  = "/meta/handshake"
	channelConnect    = "/meta/connect"
	channelSubscribe  = "/meta/subscribe"
	channelDisconnect = "/meta/disconnect"
)

// request is one outgoing Bayeux message (protocol.md 2.4). Every request is sent alone in its array: Salesforce
// limits a request to 32,768 bytes and advises against batching.
type request struct {
	Channel                  string         `json:"channel"`
	ID                       string         `json:"id"`
	ClientID                 string         `json:"clientId,omitempty"`
	Version                  string         `json:"version,omitempty"`
	MinimumVersion           string         `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string       `json:"supportedConnectionTypes,omitempty"`
	ConnectionType           string         `json:"connectionType,omitempty"`
	Subscription             string         `json:"subscription,omitempty"`
	Ext                      map[string]any `json:"ext,omitempty"`
}

func handshakeRequest(id string) request {
	return request{
		Channel:                  channelHandshake,
		ID:                       id,
		Version:                  "1.0",
		MinimumVersion:           "1.0",
		SupportedConnectionTypes: []string{"long-polling"},
		Ext:                      map[string]any{"replay": true},
	}
}

// subscribeRequest carries the replay map only when the server announced the replay extension; the map holds
// just this channel's key (the channel without ?query), keeping every request small.
func subscribeRequest(id, clientID, channel string, replayID int64, withReplay bool) request {
	r := request{Channel: channelSubscribe, ID: id, ClientID: clientID, Subscription: channel}
	if withReplay {
		r.Ext = map[string]any{"replay": map[string]int64{channelKey(channel): replayID}}
	}
	return r
}

func connectRequest(id, clientID string) request {
	return request{Channel: channelConnect, ID: id, ClientID: clientID, ConnectionType: "long-polling"}
}

func disconnectRequest(id, clientID string) request {
	return request{Channel: channelDisconnect, ID: id, ClientID: clientID}
}

func encodeRequest(r request) ([]byte, error) {
	return json.Marshal([]request{r})
}

// reply is a meta message from the server.
type reply struct {
	Channel       string
	ID            string
	ClientID      string
	Subscription  string
	Successful    bool
	HasSuccessful bool
	Error         string // "<code>:<args>:<message>", verbatim
	FailureReason string // ext.sfdc.failureReason, verbatim (Salesforce's real cause)
	Advice        advice
	HasAdvice     bool
	ExtReplay     bool // ext.replay == true on a handshake reply: the server speaks the replay extension
}

func parseReply(v *fastjson.Value) reply {
	r := reply{
		Channel:      stringMember(v, "channel"),
		ID:           stringMember(v, "id"),
		ClientID:     stringMember(v, "clientId"),
		Subscription: stringMember(v, "subscription"),
		Error:        stringMember(v, "error"),
	}
	if s := v.Get("successful"); s != nil {
		r.HasSuccessful = true
		r.Successful = s.Type() == fastjson.TypeTrue
	}
	if a := v.Get("advice"); a != nil && a.Type() == fastjson.TypeObject {
		r.HasAdvice = true
		r.Advice = parseAdvice(a)
	}
	if ext := v.Get("ext"); ext != nil && ext.Type() == fastjson.TypeObject {
		r.ExtReplay = ext.GetBool("replay")
		r.FailureReason = stringMember(ext, "sfdc", "failureReason")
	}
	return r
}

// stringMember reads a string member; a number (some servers echo numeric ids) is returned as its text.
func stringMember(v *fastjson.Value, keys ...string) string {
	m := v.Get(keys...)
	if m == nil {
		return ""
	}
	switch m.Type() {
	case fastjson.TypeString:
		return string(m.GetStringBytes())
	case fastjson.TypeNumber:
		if n, err := m.Int64(); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return ""
}

// findReply returns the reply to the request (channel, id): an exact match first, else a reply that carries
// `successful` and leaves channel or id out (Salesforce's documented error samples and legacy answers do).
func findReply(replies []reply, channel, id string) (reply, bool) {
	for _, r := range replies {
		if r.Channel == channel && r.ID == id && r.HasSuccessful {
			return r, true
		}
	}
	for _, r := range replies {
		if r.HasSuccessful && (r.Channel == "" || r.Channel == channel) && (r.ID == "" || r.ID == id) {
			return r, true
		}
	}
	return reply{}, false
}
