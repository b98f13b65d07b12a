package wire

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// Bayeux meta channels.
const (
	ChannelHandshake  = "/meta/handshake"
	ChannelConnect    = "/meta/connect"
	ChannelSubscribe  = "/meta/subscribe"
	ChannelDisconnect = "/meta/disconnect"
)

// Request is one outgoing Bayeux message. Every request is sent alone in its array: Salesforce limits a request
// to 32,768 bytes and advises against batching.
type Request struct {
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

func HandshakeRequest(id string) Request {
	return Request{
		Channel:                  ChannelHandshake,
		ID:                       id,
		Version:                  "1.0",
		MinimumVersion:           "1.0",
		SupportedConnectionTypes: []string{"long-polling"},
		Ext:                      map[string]any{"replay": true},
	}
}

// SubscribeRequest carries the replay map only when the server announced the replay extension; the map holds
// just this channel's key (the channel without ?query), keeping every request small.
func SubscribeRequest(id, clientID, channel string, replayID int64, withReplay bool) Request {
	r := Request{Channel: ChannelSubscribe, ID: id, ClientID: clientID, Subscription: channel}
	if withReplay {
		r.Ext = map[string]any{"replay": map[string]int64{stream.ChannelKey(channel): replayID}}
	}
	return r
}

func ConnectRequest(id, clientID string) Request {
	return Request{Channel: ChannelConnect, ID: id, ClientID: clientID, ConnectionType: "long-polling"}
}

func DisconnectRequest(id, clientID string) Request {
	return Request{Channel: ChannelDisconnect, ID: id, ClientID: clientID}
}

func EncodeRequest(r Request) ([]byte, error) {
	return json.Marshal([]Request{r})
}

// Reply is a meta message from the server.
type Reply struct {
	Channel       string
	ID            string
	ClientID      string
	Subscription  string
	Successful    bool
	HasSuccessful bool
	Error         string // "<code>:<args>:<message>", verbatim
	FailureReason string // ext.sfdc.failureReason, verbatim (Salesforce's real cause)
	Advice        Advice
	HasAdvice     bool
	ExtReplay     bool // ext.replay == true on a handshake reply: the server speaks the replay extension
}

func parseReply(v *fastjson.Value) Reply {
	r := Reply{
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

// FindReply returns the reply to the request (channel, id): an exact match first, else a reply that carries
// `successful` and leaves channel or id out (Salesforce's documented error samples and legacy answers do).
func FindReply(replies []Reply, channel, id string) (Reply, bool) {
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
	return Reply{}, false
}
