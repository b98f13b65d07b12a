// Package streamerr holds Salesforce's texts for a refused streaming subscription. CometD answers them as they
// are, Pub/Sub carries them in its status messages, and the subscribe_error fault stages them, so they live below
// all three.
package streamerr

// Subscribe refusals, word for word as Salesforce sends them.
const (
	RestrictedChannel = "403::Restricted channel"
	NotEnabled        = "403::User not enabled for streaming"
	NoViewAllData     = "403::User not allowed to subscribe CDC without View All Data permissions"
	TopicLimit        = "403::Subscription limit exceeded for this topic"
	NoEntityAccess    = "403::Subscriber does not have access to the entity in this topic"
	NoAccess          = "403::No access on channel"
	UnknownChannel    = "404::Unknown channel"
)

// ChannelMissing is the refusal of a subscription to a channel that does not exist; ch is the subscription as
// sent.
func ChannelMissing(ch string) string {
	return "400::The channel you requested to subscribe to doesn’t exist {" + ch + "}"
}
