package sfemu

import "github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/limits"

// allocationOf is the daily allocation a channel kind's deliveries count against.
func allocationOf(k Kind) limits.Allocation {
	if k == KindPlatformEvent || k == KindCDC {
		return limits.PlatformEvents
	}
	return limits.DurableStreaming
}
