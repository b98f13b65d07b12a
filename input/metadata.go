package input

import (
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
)

// Metadata keys (design.md, "Messages").
const (
	metaChannel         = "salesforce_channel"
	metaReplayID        = "salesforce_replay_id"
	metaCreatedDate     = "salesforce_created_date"
	metaEventType       = "salesforce_event_type"
	metaEventUUID       = "salesforce_event_uuid"
	metaSchema          = "salesforce_schema"
	metaChangeType      = "salesforce_change_type"
	metaEntityName      = "salesforce_entity_name"
	metaRecordIDs       = "salesforce_record_ids"
	metaCommitTimestamp = "salesforce_commit_timestamp"
	metaTransactionKey  = "salesforce_transaction_key"
	metaCommitUser      = "salesforce_commit_user"
)

// eventMessage turns one event into a message. The body is the event's data
// bytes as received (the event owns them, so no copy is needed); metadata the
// event does not carry is left unset. The channel is the one Salesforce
// delivers on: without a PushTopic filter.
func eventMessage(ev *bayeux.Event) *service.Message {
	msg := service.NewMessage(ev.Data)
	msg.MetaSetMut(metaChannel, channelBase(ev.Channel))
	if ev.HasReplayID {
		msg.MetaSetMut(metaReplayID, ev.ReplayID)
	}
	m := &ev.Meta
	for _, kv := range [...]struct{ key, value string }{
		{metaCreatedDate, m.CreatedDate},
		{metaEventType, m.EventType},
		{metaEventUUID, m.EventUUID},
		{metaSchema, m.Schema},
		{metaChangeType, m.ChangeType},
		{metaEntityName, m.EntityName},
		{metaCommitTimestamp, m.CommitTimestamp},
		{metaTransactionKey, m.TransactionKey},
		{metaCommitUser, m.CommitUser},
	} {
		if kv.value != "" {
			msg.MetaSetMut(kv.key, kv.value)
		}
	}
	if len(m.RecordIDs) > 0 {
		// Structured metadata holds JSON-like values: []any, not []string.
		ids := make([]any, len(m.RecordIDs))
		for i, id := range m.RecordIDs {
			ids[i] = id
		}
		msg.MetaSetMut(metaRecordIDs, ids)
	}
	return msg
}
