package bayeux

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/redact"
)

// Authenticator supplies access tokens. Refresh is called with the token Salesforce refused; an implementation
// that already holds a newer one returns it without a new token request (sfauth.Source does this).
type Authenticator interface {
	Token(ctx context.Context) (accessToken, instanceURL string, err error)
	Refresh(ctx context.Context, staleAccessToken string) (accessToken, instanceURL string, err error)
}

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	Auth       Authenticator // required
	APIVersion string        // default "64.0"; endpoint = instanceURL + "/cometd/" + APIVersion
	HTTPClient *http.Client  // base client (TLS, proxy); the client adds its own cookie jar and timeouts

	Channels []string // required, e.g. "/topic/X?Status__c=Open"; at most one per replay key
	// ReplayIDs is the start point per channel (keyed by the channel as configured or by its key without
	// ?query): a stored checkpoint, or ReplayLatest / ReplayEarliest. A channel without one starts at ReplayLatest.
	ReplayIDs         map[string]int64
	OnInvalidReplayID InvalidReplayPolicy

	// MaxBufferedEvents bounds the events received but not yet taken by Next (default 10,000). When it is
	// reached the client stops polling and disconnects (so Salesforce does not count it against the org's
	// concurrent clients), waits until Next has taken half, then handshakes and resubscribes from the last
	// queued replay ids. One answer is always queued whole, so the buffer may exceed the bound by one answer.
	MaxBufferedEvents int

	Logger   Logger   // optional
	Observer Observer // optional
	Backoff  BackoffConfig

	// RequestTimeout bounds handshake, subscribe and disconnect requests (default 30 s). A long poll is bounded by
	// the server's advice.timeout plus ConnectTimeoutMargin (default 15 s).
	RequestTimeout       time.Duration
	ConnectTimeoutMargin time.Duration

	// MaxAnswerBytes bounds one server answer (default DefaultMaxAnswerBytes, 64 MiB). A larger answer is not
	// read: the client logs an error, disconnects and resubscribes from the last queued replay ids, like after a
	// dropped connection. Reading and decoding an answer allocates about its size plus up to 1 KB per event.
	MaxAnswerBytes int64

	// Redactor removes secrets and tokens from every server text the client quotes in an error or a log (HTTP
	// error bodies, Bayeux error texts). Optional: the client always adds the tokens Auth hands it, and a nil
	// Redactor gets a fresh one; pass the token source's (sfauth.Source.Redactor) so configured secrets are known.
	Redactor *redact.Redactor
}

const (
	defaultAPIVersion        = "64.0"
	defaultMaxBufferedEvents = 10000
	defaultRequestTimeout    = 30 * time.Second
	defaultConnectMargin     = 15 * time.Second
	// closeDisconnectTimeout bounds the /meta/disconnect sent by Close, so Close returns within a second.
	closeDisconnectTimeout = 500 * time.Millisecond
	// closeLoopWait bounds how long Close waits for the loop once its context is cancelled.
	closeLoopWait = 400 * time.Millisecond
)

// Client is a CometD long-polling session with Salesforce (or any Bayeux server): Start handshakes and
// subscribes, then a goroutine polls /meta/connect and queues events for Next, recovering the session by itself.
type Client struct {
	cfg      Config
	log      Logger
	obs      Observer
	tr       *transport
	dec      *decoder
	replay   *replayPositions
	channels []string

	// closeCtx ends with Close; the loop runs under it and Start's requests are cancelled by it.
	closeCtx    context.Context
	closeCancel context.CancelFunc

	// Session state. Only one goroutine at a time drives requests (Start, then the loop, then Close after the
	// loop has exited), so these need no lock.
	token, endpoint   string
	clientID          string
	extReplay         bool
	adv               advice
	msgID             uint64
	streak            int // recoveries since the session was last healthy
	connectsInSession int

	mu      sync.Mutex
	queue   []Batch
	queued  int // events in queue
	fatal   error
	running bool // Start succeeded or is in progress
	closed  bool

	// The decode stage (stage.go): connect answers the loop has split, waiting to be completed into batches by
	// decodeLoop, in order. staged counts the answers handed on and not yet queued, stagedEvents their data
	// messages (which count against MaxBufferedEvents); both under mu.
	stage        chan *answer
	staged       int
	stagedEvents int
	stageIdle    chan struct{}       // staged fell to zero
	stageHook    func()              // tests: runs before each staged answer is completed
	waitHook     func(time.Duration) // tests: told every wait recovery chose, before it starts

	avail     chan struct{} // a batch or a fatal error is ready
	drained   chan struct{} // the queue fell to half of MaxBufferedEvents
	active    sync.WaitGroup
	closeOnce sync.Once
	closeDone chan struct{}
}

// New validates cfg and returns a client that does nothing until Start.
func New(cfg Config) (*Client, error) {
	if cfg.Auth == nil {
		return nil, errors.New("bayeux: Auth is required")
	}
	if len(cfg.Channels) == 0 {
		return nil, errors.New("bayeux: at least one channel is required")
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = defaultAPIVersion
	}
	if cfg.MaxBufferedEvents <= 0 {
		cfg.MaxBufferedEvents = defaultMaxBufferedEvents
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.ConnectTimeoutMargin <= 0 {
		cfg.ConnectTimeoutMargin = defaultConnectMargin
	}
	if cfg.MaxAnswerBytes <= 0 {
		cfg.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	switch cfg.OnInvalidReplayID {
	case ReplayFallbackEarliest, ReplayFallbackLatest, ReplayFallbackFail:
	default:
		return nil, fmt.Errorf("bayeux: unknown invalid replay policy %d", cfg.OnInvalidReplayID)
	}
	cfg.Backoff = cfg.Backoff.withDefaults()

	replay := newReplayPositions()
	channelOf := make(map[string]string, len(cfg.Channels))
	for _, ch := range cfg.Channels {
		if !strings.HasPrefix(ch, "/") || strings.HasPrefix(ch, "/meta/") {
			return nil, fmt.Errorf("bayeux: invalid channel %q", ch)
		}
		key := channelKey(ch)
		if other, dup := channelOf[key]; dup {
			return nil, fmt.Errorf("bayeux: channels %q and %q share the replay key %q", other, ch, key)
		}
		channelOf[key] = ch
		id, ok := cfg.ReplayIDs[ch]
		if !ok {
			id, ok = cfg.ReplayIDs[key]
		}
		if !ok {
			id = ReplayLatest
		}
		replay.set(key, id)
	}

	if cfg.Redactor == nil {
		cfg.Redactor = redact.New()
	}
	tr, err := newTransport(cfg.HTTPClient, cfg.MaxAnswerBytes, cfg.Redactor)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger,
		obs:       cfg.Observer,
		tr:        tr,
		dec:       newDecoder(channelOf),
		replay:    replay,
		channels:  append([]string(nil), cfg.Channels...),
		avail:     make(chan struct{}, 1),
		drained:   make(chan struct{}, 1),
		stage:     make(chan *answer, stageDepth-1),
		stageIdle: make(chan struct{}, 1),
		closeDone: make(chan struct{}),
	}
	if c.log == nil {
		c.log = nopLogger{}
	}
	if c.obs == nil {
		c.obs = ObserverFuncs{}
	}
	c.closeCtx, c.closeCancel = context.WithCancel(context.Background())
	return c, nil
}

// Start obtains a token, handshakes and subscribes every channel in order, then starts the polling goroutine,
// whose lifetime is not tied to ctx. Errors name the cause in Salesforce's words: bad credentials (the token
// source's error), an AuthError, a PermissionError or InvalidReplayError (policy fail) naming the channel, a
// LimitError. After a failed Start, Start may be called again.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return errors.New("bayeux: client already started")
	}
	c.running = true
	c.active.Add(1)
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.closeCtx, cancel)
	err := c.startSession(ctx)
	stop()
	cancel()
	if err != nil {
		if c.clientID != "" && c.closeCtx.Err() == nil {
			c.disconnect(context.Background(), closeDisconnectTimeout) // free the org's client slot
		}
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		c.active.Done()
		if c.closeCtx.Err() != nil {
			return ErrClosed
		}
		return err
	}
	c.active.Add(1)
	go c.decodeLoop()
	go c.run() // inherits the active count taken above
	return nil
}

// Next returns the next batch: the events of one channel from one answer, in order. It blocks until a batch is
// ready or ctx ends. After Close it returns ErrClosed; after a fatal error (an invalid replay id with policy
// ReplayFallbackFail) it returns that error once the queued batches are taken.
func (c *Client) Next(ctx context.Context) (Batch, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return Batch{}, ErrClosed
		}
		if len(c.queue) > 0 {
			b := c.queue[0]
			c.queue[0] = Batch{}
			c.queue = c.queue[1:]
			if len(c.queue) == 0 {
				c.queue = nil // let the backing array go
			}
			c.queued -= len(b.Events)
			if c.queued <= c.cfg.MaxBufferedEvents/2 {
				signal(c.drained)
			}
			if len(c.queue) > 0 || c.fatal != nil {
				signal(c.avail) // another waiting Next may take the rest
			}
			c.mu.Unlock()
			return b, nil
		}
		if c.fatal != nil {
			err := c.fatal
			c.mu.Unlock()
			signal(c.avail)
			return Batch{}, err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		case <-c.closeCtx.Done():
		case <-c.avail:
		}
	}
}

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
	c.closed = true
	c.mu.Unlock()
	c.closeCancel()

	stopped := make(chan struct{})
	go func() {
		c.active.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(closeLoopWait):
		c.log.Warnf("Salesforce streaming: the polling goroutine did not stop within %s; not sending /meta/disconnect", closeLoopWait)
		return
	}
	if c.clientID != "" {
		c.disconnect(context.WithoutCancel(ctx), closeDisconnectTimeout)
	}
}

// ReplayIDs returns, per channel key (channel without ?query), the replay id the next subscribe would use: the
// id of the last event queued for Next, or the start point.
func (c *Client) ReplayIDs() map[string]int64 { return c.replay.snapshot() }

// enqueue queues the batches of one answer for Next and moves the channels' replay positions. staged is the
// number of data messages the answer was counted with while in the decode stage, -1 for an answer that was not
// staged.
func (c *Client) enqueue(batches []Batch, events, staged int) {
	for _, b := range batches {
		c.replay.advance(channelKey(b.Channel), b.Events)
	}
	c.replay.stamp(batches)
	c.mu.Lock()
	c.queue = append(c.queue, batches...)
	c.queued += events
	idle := false
	if staged >= 0 {
		c.staged--
		c.stagedEvents -= staged
		idle = c.staged == 0
	}
	c.mu.Unlock()
	if idle {
		signal(c.stageIdle)
	}
	if events == 0 {
		return
	}
	for _, b := range batches {
		c.obs.Events(b.Channel, len(b.Events))
	}
	signal(c.avail)
}

func (c *Client) setFatal(err error) {
	c.mu.Lock()
	c.fatal = err
	c.mu.Unlock()
	signal(c.avail)
}

// bufferFull counts the events queued and those of answers still in the decode stage.
func (c *Client) bufferFull() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued+c.stagedEvents >= c.cfg.MaxBufferedEvents
}

// waitDrained blocks until the queue (with the decode stage) holds at most half of MaxBufferedEvents. It returns
// false if ctx ended first.
func (c *Client) waitDrained(ctx context.Context) bool {
	return c.waitUntil(ctx, c.drained, func() bool {
		return c.queued+c.stagedEvents <= c.cfg.MaxBufferedEvents/2
	})
}

// waitUntil blocks until cond, evaluated under mu, holds. wake must be signalled whenever cond may have become
// true. It returns false if ctx ended first.
func (c *Client) waitUntil(ctx context.Context, wake <-chan struct{}, cond func() bool) bool {
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
