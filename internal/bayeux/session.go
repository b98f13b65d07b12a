package bayeux

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// trouble is why the connect loop left the connected state, and how to come back.
type trouble struct {
	reason        string        // Observer.Reconnect reason
	err           error         // the cause, logged with Salesforce's text
	wait          time.Duration // the server's advice interval, for the first attempt of a streak
	refresh       bool          // get a new token before the handshake
	long          bool          // a limit or a busy server: wait Backoff.Long
	disconnectOld bool          // the old client may still live on the server: disconnect it first
	retryConnect  bool          // advice retry: poll again with the same client after a backoff
}

// startSession is Start's part: token, handshake, subscriptions. A handshake refused for authentication gets
// one token refresh and one more try.
func (c *Client) startSession(ctx context.Context) error {
	token, instanceURL, err := c.cfg.Auth.Token(ctx)
	if err != nil {
		return fmt.Errorf("getting an access token: %w", err)
	}
	c.setToken(token, instanceURL)
	err = c.establish(ctx)
	if err != nil && kindOf(err) == kindAuth && ctx.Err() == nil {
		c.log.Warnf("Salesforce refused the access token (%v); getting a new one", err)
		if rerr := c.refresh(ctx); rerr != nil {
			return rerr
		}
		err = c.establish(ctx)
	}
	if err == nil {
		c.log.Infof("Salesforce streaming session started on %s: %d channel(s) subscribed", c.endpoint, len(c.channels))
	}
	return err
}

func (c *Client) setToken(token, instanceURL string) {
	c.cfg.Redactor.AddToken(token)
	c.token = token
	c.endpoint = strings.TrimRight(instanceURL, "/") + "/cometd/" + c.cfg.APIVersion
}

func (c *Client) refresh(ctx context.Context) error {
	c.obs.TokenRefresh()
	token, instanceURL, err := c.cfg.Auth.Refresh(ctx, c.token)
	if err != nil {
		return &AuthError{Err: fmt.Errorf("refreshing the access token: %w", err)}
	}
	c.setToken(token, instanceURL)
	return nil
}

func (c *Client) nextID() string {
	c.msgID++
	return strconv.FormatUint(c.msgID, 10)
}

// exchange sends one message and splits the answer: its replies, and where its data messages are. A malformed
// answer is an error and hands on nothing. Events in any answer are queued (a Bayeux server may piggy-back them
// on any reply): here, after everything still in the decode stage, for every request but /meta/connect, whose
// answers poll hands to the decode stage.
func (c *Client) exchange(ctx context.Context, req request, timeout time.Duration) (answer, error) {
	body, err := encodeRequest(req)
	if err != nil {
		return answer{}, fmt.Errorf("encoding %s: %w", req.Channel, err)
	}
	raw, err := c.tr.post(ctx, c.endpoint, c.token, body, timeout)
	if err != nil {
		return answer{}, err
	}
	ans, err := c.dec.split(raw)
	if err != nil {
		return answer{}, err
	}
	if req.Channel == channelConnect || !ans.hasData() {
		return ans, nil
	}
	if !c.drainStage(ctx) {
		return answer{}, ctx.Err()
	}
	c.deliver(&ans, -1)
	return ans, nil
}

// establish handshakes and subscribes every channel, one request each, in order. If a subscription fails the
// new client is disconnected, so a retry does not hold two slots of the org's concurrent-client limit.
func (c *Client) establish(ctx context.Context) error {
	c.clientID = ""
	// Every subscribe starts from the last queued replay ids: the events of answers still in the decode stage
	// must be queued first.
	if !c.drainStage(ctx) {
		return ctx.Err()
	}
	if err := c.handshake(ctx); err != nil {
		return err
	}
	for _, ch := range c.channels {
		if err := c.subscribe(ctx, ch); err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrUnknownClient) {
				c.disconnect(ctx, closeDisconnectTimeout)
			}
			c.clientID = ""
			return err
		}
	}
	c.connectsInSession = 0
	return nil
}

func (c *Client) handshake(ctx context.Context) error {
	req := handshakeRequest(c.nextID())
	ans, err := c.exchange(ctx, req, c.cfg.RequestTimeout)
	if err != nil {
		return fmt.Errorf("handshaking with %s: %w", c.endpoint, err)
	}
	r, ok := findReply(ans.replies, channelHandshake, req.ID)
	if !ok {
		return fmt.Errorf("handshaking with %s: no /meta/handshake reply in the answer", c.endpoint)
	}
	if !r.Successful || r.ClientID == "" {
		return fmt.Errorf("handshaking with %s: %w", c.endpoint, classify(c.redacted(r), channelHandshake, "", 0))
	}
	// Salesforce handshake replies carry no advice; a generic server's may. Keep its timings, but always go on
	// to subscribe and connect: following stale advice after a handshake was aiocometd's handshake storm.
	if r.HasAdvice {
		c.adv.merge(r.Advice)
	}
	c.adv.Reconnect = reconnectRetry
	c.clientID = r.ClientID
	c.extReplay = r.ExtReplay
	c.log.Debugf("Salesforce handshake done (replay extension: %t)", c.extReplay)
	return nil
}

// subscribe subscribes one channel from its replay position. An invalid replay id is replaced per
// OnInvalidReplayID (loudly: error log and Observer.ReplayFallback), on the first subscribe and on every
// resubscribe alike.
func (c *Client) subscribe(ctx context.Context, channel string) error {
	key := channelKey(channel)
	id := c.replay.get(key)
	fellBack := false
	for {
		req := subscribeRequest(c.nextID(), c.clientID, channel, id, c.extReplay)
		ans, err := c.exchange(ctx, req, c.cfg.RequestTimeout)
		if err != nil {
			return fmt.Errorf("subscribing to %s: %w", channel, err)
		}
		r, ok := findReply(ans.replies, channelSubscribe, req.ID)
		if !ok {
			return fmt.Errorf("subscribing to %s: no /meta/subscribe reply in the answer", channel)
		}
		if r.Successful {
			if c.extReplay {
				c.log.Debugf("subscribed to %s from replay id %d", channel, id)
			} else {
				c.log.Debugf("subscribed to %s (the server has no replay extension)", channel)
			}
			return nil
		}
		err = classify(c.redacted(r), channelSubscribe, channel, id)
		var invalid *InvalidReplayError
		if !errors.As(err, &invalid) || fellBack {
			return fmt.Errorf("subscribing to %s: %w", channel, err)
		}
		policy := c.cfg.OnInvalidReplayID
		c.obs.ReplayFallback(channel, policy)
		switch policy {
		case ReplayFallbackEarliest:
			id = ReplayEarliest
		case ReplayFallbackLatest:
			id = ReplayLatest
		default:
			c.log.Errorf("Salesforce refused replay id %d on %s (%s); on_invalid_replay_id is fail, stopping",
				invalid.ReplayID, channel, invalid.Err)
			return fmt.Errorf("subscribing to %s: %w", channel, err)
		}
		c.log.Errorf("Salesforce refused replay id %d on %s (%s); resubscribing from %s (%d) as on_invalid_replay_id says",
			invalid.ReplayID, channel, invalid.Err, policy, id)
		c.replay.fallBack(key, id)
		fellBack = true
	}
}

// disconnect sends /meta/disconnect for the current client, best effort, and forgets the client.
func (c *Client) disconnect(ctx context.Context, timeout time.Duration) {
	if c.clientID == "" {
		return
	}
	req := disconnectRequest(c.nextID(), c.clientID)
	c.clientID = ""
	body, err := encodeRequest(req)
	if err != nil {
		return
	}
	// The answer is not decoded: events in it would reach a queue nobody reads, or be re-delivered anyway by
	// the resubscribe that follows.
	if _, err := c.tr.post(ctx, c.endpoint, c.token, body, timeout); err != nil && ctx.Err() == nil {
		c.log.Debugf("sending /meta/disconnect: %v", err)
	}
}

// run is the connect loop: one long poll at a time, then recovery when the session breaks. It owns the session
// state until Close cancels closeCtx.
func (c *Client) run() {
	defer c.active.Done()
	ctx := c.closeCtx
	var tr *trouble
	for ctx.Err() == nil {
		if tr != nil {
			if !c.recover(ctx, tr) {
				return
			}
			tr = nil
			continue
		}
		if c.bufferFull() {
			tr = &trouble{reason: "backpressure", disconnectOld: true}
			continue
		}
		tr = c.poll(ctx)
	}
}

// poll sends one /meta/connect and interprets the answer, returning nil while the session is healthy.
func (c *Client) poll(ctx context.Context) *trouble {
	req := connectRequest(c.nextID(), c.clientID)
	ans, err := c.exchange(ctx, req, c.adv.connectTimeout(c.cfg.ConnectTimeoutMargin))
	if ctx.Err() != nil {
		return nil
	}
	if err == nil && !c.handOn(ctx, &ans) {
		return nil // closing
	}
	if err != nil {
		if kindOf(err) == kindAuth {
			return &trouble{reason: "auth", err: err, refresh: true}
		}
		if errors.Is(err, ErrAnswerTooLarge) {
			return &trouble{reason: "answer_too_large", err: err, disconnectOld: true}
		}
		return &trouble{reason: "connection_error", err: err, disconnectOld: true}
	}
	r, ok := findReply(ans.replies, channelConnect, req.ID)
	if ok && r.HasAdvice {
		c.adv.merge(r.Advice)
	}
	switch {
	case ok && !r.Successful:
		return c.connectRefused(r)
	case ans.disconnect:
		return &trouble{reason: "server_disconnect", err: errors.New("the server sent /meta/disconnect")}
	case !ok:
		return &trouble{reason: "connection_error", err: errors.New("no /meta/connect reply in the answer"),
			disconnectOld: true}
	}
	c.connectsInSession++
	if c.connectsInSession >= 2 {
		c.streak = 0 // the session survived a full long poll: the failure streak is over
	}
	switch c.adv.Reconnect {
	case reconnectHandshake:
		return &trouble{reason: "advice_handshake", err: errors.New("the server advised a new handshake"),
			wait: c.adv.Interval}
	case reconnectNone:
		c.adv.Reconnect = reconnectRetry
		return &trouble{reason: "advice_none", err: errors.New("the server advised not to reconnect"),
			disconnectOld: true}
	}
	sleep(ctx, c.adv.Interval) // Close ends it early; the loop then sees closeCtx done
	return nil
}

// connectRefused maps an unsuccessful /meta/connect reply to the recovery it calls for: by Salesforce's cause
// when it names one, else by the server's reconnect advice.
func (c *Client) connectRefused(r reply) *trouble {
	err := fmt.Errorf("polling /meta/connect: %w", classify(c.redacted(r), channelConnect, "", 0))
	switch kindOf(err) {
	case kindUnknownClient:
		return &trouble{reason: "unknown_client", err: err, wait: c.adv.Interval}
	case kindAuth:
		// Salesforce answers a revoked token with a server /meta/disconnect plus 401 and advice none.
		return &trouble{reason: "auth", err: err, refresh: true}
	// The refused client may still hold one of the org's client slots until it expires: free it.
	case kindBusy:
		return &trouble{reason: "server_busy", err: err, long: true, disconnectOld: true}
	case kindLimit:
		return &trouble{reason: "limit", err: err, long: true, disconnectOld: true}
	}
	switch c.adv.Reconnect {
	case reconnectRetry:
		return &trouble{reason: "connect_error", err: err, retryConnect: true}
	case reconnectHandshake:
		return &trouble{reason: "advice_handshake", err: err, wait: c.adv.Interval}
	}
	return &trouble{reason: "connect_error", err: err, disconnectOld: true}
}

// recover brings the session back after tr. It counts and logs tr and frees the old client's slot when it may
// still hold one. On advice retry it only waits a backoff before the next poll; otherwise it waits for the
// pipeline after backpressure, picks the first wait (the advice interval at the start of a failure streak, then
// jittered exponential backoff; Backoff.Long after limits or a busy server) and calls reestablish. It returns
// false when the client is closing or a fatal error stops it.
func (c *Client) recover(ctx context.Context, tr *trouble) bool {
	c.obs.Reconnect(tr.reason)
	c.logTrouble(tr)
	if tr.disconnectOld {
		c.disconnect(ctx, closeDisconnectTimeout)
	}
	if tr.retryConnect {
		c.streak++
		wait := c.cfg.Backoff.Delay(c.streak)
		c.noteWait(wait)
		return sleep(ctx, wait)
	}
	c.clientID = ""
	if tr.reason == "backpressure" {
		if !c.waitDrained(ctx) {
			return false
		}
		c.log.Infof("Salesforce streaming: the pipeline caught up; resubscribing from the last queued replay ids")
	}

	wait := tr.wait
	switch {
	case tr.long:
		wait = c.cfg.Backoff.long()
	case c.streak > 0:
		wait = c.cfg.Backoff.Delay(c.streak)
	}
	return c.reestablish(ctx, wait, tr.refresh)
}

// reestablish waits, refreshes the token when Salesforce refused it, handshakes and resubscribes every channel
// from the last queued replay id, until that succeeds. Between attempts it waits by the failure: backoff, one
// immediate token refresh after a refused token, Backoff.Long after limits, a busy server or a refused
// subscription. It returns false when the client is closing or an invalid replay id with policy fail stops it;
// it never gives up otherwise, and every failure is logged with Salesforce's text.
func (c *Client) reestablish(ctx context.Context, wait time.Duration, refresh bool) bool {
	triedRefresh := false
	for {
		c.streak++
		c.noteWait(wait)
		if wait > 0 {
			c.log.Debugf("Salesforce streaming: next handshake in %s", wait.Round(time.Millisecond))
			if !sleep(ctx, wait) {
				return false
			}
		}
		var err error
		if refresh {
			triedRefresh = true
			err = c.refresh(ctx)
		}
		if err == nil {
			err = c.establish(ctx)
		}
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			c.log.Infof("Salesforce streaming session re-established: %d channel(s) resubscribed from their last replay ids",
				len(c.channels))
			return true
		}
		wait = c.cfg.Backoff.Delay(c.streak)
		refresh = false
		switch kindOf(err) {
		case kindAuth:
			refresh = true
			if !triedRefresh {
				wait = 0 // refused token: one immediate refresh, then backoff
			}
			c.log.Warnf("Salesforce streaming: %v; retrying with a new token in %s", err, wait.Round(time.Millisecond))
		case kindLoginRejected:
			refresh = true
			wait = c.cfg.Backoff.long()
			c.log.Errorf("Salesforce streaming: Salesforce refused the login (%v): the credentials, the connected app or "+
				"the user changed (a revoked refresh token or app authorization, a reset password or security token, a "+
				"deactivated user, a replaced certificate). Each refused login with a password counts toward the user's "+
				"lockout (10 failed logins by default): fix auth soon. Logging in again in %s", err, wait.Round(time.Second))
		case kindBusy, kindLimit, kindPermission:
			wait = c.cfg.Backoff.long()
			c.log.Errorf("Salesforce streaming: %v; waiting %s before trying again", err, wait.Round(time.Second))
		case kindInvalidReplay:
			c.log.Errorf("Salesforce streaming stopped: %v", err)
			c.setFatal(err)
			return false
		default:
			c.log.Warnf("Salesforce streaming: reconnecting failed: %v; retrying in %s", err, wait.Round(time.Millisecond))
		}
	}
}

// noteWait tells the test hook about a wait recovery chose.
func (c *Client) noteWait(d time.Duration) {
	if c.waitHook != nil {
		c.waitHook(d)
	}
}

func (c *Client) logTrouble(tr *trouble) {
	switch tr.reason {
	case "backpressure":
		c.log.Infof("Salesforce streaming: %d events wait for the pipeline (max_buffered_events %d); "+
			"disconnecting until half are taken, then resuming from the last queued replay ids",
			c.queuedEvents(), c.cfg.MaxBufferedEvents)
	case "unknown_client", "server_disconnect", "advice_handshake":
		c.log.Infof("Salesforce streaming session ended (%v); handshaking again and resubscribing %d channel(s)",
			tr.err, len(c.channels))
	case "answer_too_large":
		c.log.Errorf("Salesforce streaming: %v; the answer was discarded and the channels are resubscribed from the "+
			"last queued replay ids (raise MaxAnswerBytes if the server's batches are legitimately this large)", tr.err)
	case "server_busy", "limit":
		c.log.Errorf("Salesforce streaming: %v; waiting about %s before handshaking again", tr.err, c.cfg.Backoff.Long)
	case "auth":
		c.log.Warnf("Salesforce streaming: the access token was refused (%v); getting a new token and handshaking again", tr.err)
	default:
		c.log.Warnf("Salesforce streaming: %v; reconnecting", tr.err)
	}
}

func (c *Client) queuedEvents() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// redacted returns r with its server texts quoted through the redactor: a server or a proxy may echo the
// Authorization header or a secret into them, and they end up in errors and logs.
func (c *Client) redacted(r reply) reply {
	r.Error = c.cfg.Redactor.QuoteString(r.Error)
	r.FailureReason = c.cfg.Redactor.QuoteString(r.FailureReason)
	return r
}
