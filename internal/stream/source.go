package stream

import "context"

// Source is what a client is to the input: the batches of every subscribed channel, each channel's in order, the
// error that ended it for good, and Close. The input tracks, acknowledges, redelivers and checkpoints the same
// way whatever the Source; a batch's Release hands capacity back to the Source that produced it.
type Source interface {
	// Next returns the next batch: events of one channel, or a keepalive (no events, Latest set). It blocks
	// until one is ready, ctx ends, or the source fails (then the error).
	Next(ctx context.Context) (Batch, error)
	// Err is the terminal error that stopped the source, if any (an invalid replay id with policy
	// ReplayFallbackFail); nil while it runs or recovers.
	Err() error
	// Close ends the source; it is idempotent.
	Close(ctx context.Context) error
}
