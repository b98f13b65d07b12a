package bayeux

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// lifecycle is where a Client stands between New and Close.
type lifecycle int

const (
	lifeNew      lifecycle = iota // created, or its last Start failed
	lifeStarting                  // Start is establishing the session
	lifeRunning                   // the connect loop runs
	lifeClosed                    // Close was called
)

// Client is a CometD long-polling session with Salesforce (or any Bayeux server): Start handshakes and
// subscribes, then a goroutine polls /meta/connect and queues events for Next, recovering the session by itself.
// Its parts: the session (session.go, recover.go), driven by one goroutine at a time; the decode stage
// (stage.go), one goroutine; and the buffer (buffer.go, admit.go), the only state they and Next share.
type Client struct {
	sess  *session
	stage *stage
	buf   *buffer

	// closeCtx ends with Close; the loop and the stage run under it and Start's requests are cancelled by it.
	closeCtx    context.Context
	closeCancel context.CancelFunc

	mu        sync.Mutex // guards life and stageUp
	life      lifecycle
	stageUp   bool // the stage's goroutine was started
	active    sync.WaitGroup
	closeOnce sync.Once
	closeDone chan struct{}
}

// New validates cfg and returns a client that does nothing until Start.
func New(cfg Config) (*Client, error) {
	cfg, channelOf, start, err := cfg.validated()
	if err != nil {
		return nil, err
	}
	tr, err := newTransport(cfg.HTTPClient, cfg.MaxAnswerBytes, cfg.Redactor)
	if err != nil {
		return nil, err
	}
	split := wire.NewSplitter(channelOf)
	buf := newBuffer(cfg.MaxBufferedEvents, start, cfg.Logger, cfg.Observer, cfg.Redactor)
	st := newStage(split.Assembler(), buf)
	c := &Client{
		sess: &session{cfg: cfg, log: cfg.Logger, obs: cfg.Observer, tr: tr, split: split, stage: st, buf: buf,
			channels: cfg.Channels},
		stage:     st,
		buf:       buf,
		closeDone: make(chan struct{}),
	}
	c.closeCtx, c.closeCancel = context.WithCancel(context.Background())
	return c, nil
}

// Start obtains a token, handshakes and subscribes every channel in order, then starts the polling goroutine,
// whose lifetime is not tied to ctx. Errors name the cause in Salesforce's words: bad credentials (the token
// source's error), a stream.AuthError, a stream.PermissionError or stream.InvalidReplayError (policy fail) naming the channel, a
// stream.LimitError. After a failed Start, Start may be called again.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	switch c.life {
	case lifeClosed:
		c.mu.Unlock()
		return ErrClosed
	case lifeStarting, lifeRunning:
		c.mu.Unlock()
		return errors.New("bayeux: client already started")
	}
	c.life = lifeStarting
	if !c.stageUp {
		c.stageUp = true
		c.active.Add(1)
		go func() {
			defer c.active.Done()
			c.stage.run(c.closeCtx)
		}()
	}
	c.active.Add(1)
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.closeCtx, cancel)
	err := c.sess.start(ctx)
	stop()
	cancel()
	if err != nil {
		if c.sess.state != stateDisconnected && c.closeCtx.Err() == nil {
			c.sess.disconnect(context.Background(), closeDisconnectTimeout) // free the org's client slot
		}
		c.mu.Lock()
		if c.life == lifeStarting {
			c.life = lifeNew
		}
		c.mu.Unlock()
		c.active.Done()
		if c.closeCtx.Err() != nil {
			return ErrClosed
		}
		return err
	}
	c.mu.Lock()
	if c.life == lifeStarting {
		c.life = lifeRunning
	}
	c.mu.Unlock()
	go func() { // inherits the active count taken above
		defer c.active.Done()
		c.sess.run(c.closeCtx)
	}()
	return nil
}

// Next returns the next batch: the events of one channel from one answer, in order. It blocks until a batch is
// ready or ctx ends. After Close it returns ErrClosed; after a terminal error (an invalid replay id with policy
// stream.ReplayFallbackFail) it returns that error once the queued batches are taken.
func (c *Client) Next(ctx context.Context) (stream.Batch, error) {
	return c.buf.next(ctx, c.closeCtx.Done())
}

// Err returns the terminal error that stopped the session (an invalid replay id with policy stream.ReplayFallbackFail),
// or nil while the session runs or recovers. A client with a terminal error stays stopped: close it.
func (c *Client) Err() error { return c.buf.err() }

// Close stops the client: it cancels the pending long poll, waits for the polling goroutine, and sends
// /meta/disconnect (best effort, at most 500 ms) so Salesforce frees the org's client slot at once. It returns
// within about a second even mid-poll, and is idempotent.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		go c.close(ctx)
	})
	select {
	case <-c.closeDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) close(ctx context.Context) {
	defer close(c.closeDone)
	c.mu.Lock()
	c.life = lifeClosed
	c.mu.Unlock()
	c.buf.close()
	c.closeCancel()

	stopped := make(chan struct{})
	go func() {
		c.active.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(closeLoopWait):
		c.sess.log.Warnf("Salesforce streaming: the polling goroutine did not stop within %s; not sending /meta/disconnect", closeLoopWait)
		return
	}
	c.sess.disconnect(context.WithoutCancel(ctx), closeDisconnectTimeout)
}

// replayIDs returns, per channel key, the replay id the next subscribe would use (tests).
func (c *Client) replayIDs() map[string]int64 { return c.buf.snapshot() }
