package bayeux

import "context"

// The decode stage lets fetching and decoding overlap. The connect loop splits each /meta/connect answer (its
// grammar, its replies, where its data messages are: what the session's state machine needs) and hands it to
// decodeLoop, which reads the events' replay ids and metadata, builds the batches and queues them, in the order
// the answers arrived, while the loop already waits for the next answer. At most stageDepth answers are in the
// stage; their data messages count against MaxBufferedEvents. Before any (re)subscribe the loop waits until the
// stage is empty, so the replay ids it subscribes from include every event of every answer received.

// stageDepth bounds the answers handed to the decode stage and not yet queued: one being decoded, one waiting.
const stageDepth = 2

func (a *answer) hasData() bool { return a.events > 0 || len(a.dropped) > 0 }

// handOn passes a connect answer's data messages to the decode stage. It returns false if ctx ended first.
func (c *Client) handOn(ctx context.Context, ans *answer) bool {
	if !ans.hasData() {
		return true
	}
	job := &answer{body: ans.body, raw: ans.raw, chans: ans.chans, events: ans.events, dropped: ans.dropped}
	ans.raw, ans.dropped = nil, nil // the stage owns them now
	c.mu.Lock()
	c.staged++
	c.stagedEvents += job.events
	c.mu.Unlock()
	select {
	case c.stage <- job:
		return true
	case <-ctx.Done():
		return false
	}
}

// decodeLoop is the decode stage's goroutine; it ends with Close.
func (c *Client) decodeLoop() {
	defer c.active.Done()
	for {
		select {
		case <-c.closeCtx.Done():
			return
		case ans := <-c.stage:
			if c.stageHook != nil {
				c.stageHook()
			}
			c.deliver(ans, ans.events)
		}
	}
}

// deliver completes an answer's events and queues them; staged as for enqueue.
func (c *Client) deliver(ans *answer, staged int) {
	c.dec.complete(ans)
	c.admit(ans)
	c.enqueue(ans.batches, ans.events, staged)
}

// drainStage waits until every answer handed to the decode stage is queued. It returns false if ctx ended first.
func (c *Client) drainStage(ctx context.Context) bool {
	return c.waitUntil(ctx, c.stageIdle, func() bool { return c.staged == 0 })
}
