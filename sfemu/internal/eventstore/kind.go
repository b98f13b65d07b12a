package eventstore

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Kind is a channel's event type; it decides payload shape and retention.
type Kind int

// Channel kinds.
const (
	KindUnknown       Kind = iota
	KindPushTopic          // /topic/Name (optionally ?Field=Value filters)
	KindGeneric            // /u/Name
	KindPlatformEvent      // /event/Name__e (and standard events, __chn channels)
	KindCDC                // /data/ChangeEvents, /data/<Object>ChangeEvent, /data/<Ch>__chn
)

func (k Kind) String() string {
	switch k {
	case KindPushTopic:
		return "pushtopic"
	case KindGeneric:
		return "generic"
	case KindPlatformEvent:
		return "platform_event"
	case KindCDC:
		return "cdc"
	}
	return "unknown"
}

// KindOf classifies a channel name without its ?query; KindUnknown means the emulator cannot serve it.
func KindOf(name string) Kind {
	hasName := func(prefix string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		return ok && rest != "" && !strings.ContainsAny(rest, "/?*")
	}
	switch {
	case hasName("/topic/"):
		return KindPushTopic
	case hasName("/u/") || org.ValidGenericChannel(name):
		return KindGeneric
	case hasName("/event/"):
		return KindPlatformEvent
	case hasName("/data/"):
		return KindCDC
	}
	return KindUnknown
}

// Filter is one Field=Value condition of a filtered PushTopic subscription.
type Filter struct{ Field, Value string }

// SplitChannel splits "/topic/X?A=1&B=2" into the replay key "/topic/X" and its filters, sorted by field.
func SplitChannel(full string) (key string, filters []Filter, err error) {
	key, query, hasQuery := strings.Cut(full, "?")
	if !hasQuery {
		return key, nil, nil
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("parsing filter %q: %w", query, err)
	}
	for k, vs := range vals {
		for _, v := range vs {
			filters = append(filters, Filter{Field: k, Value: v})
		}
	}
	sort.Slice(filters, func(i, j int) bool { return filters[i].Field < filters[j].Field })
	return key, filters, nil
}
