package sfemu

import "github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/pubsubapi"

// Names of the Pub/Sub surface that the tests read; package pubsubapi owns them.
var (
	replayBytes     = pubsubapi.ReplayBytes
	replayFromBytes = pubsubapi.ReplayFromBytes
)

const (
	errCodeManagedActive = pubsubapi.ErrCodeManagedActive
	managedKeyPrefix     = pubsubapi.ManagedKeyPrefix
)
