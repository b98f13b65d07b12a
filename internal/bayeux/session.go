package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// sessionState is where the session stands with the server.
type sessionState int

const (
	// stateDisconnected: no client id; the next step is a handshake.
	stateDisconnected sessionState = iota
	// stateHandshaken: the server gave a client id; the channels are being subscribed.
	stateHandshaken
	// stateConnected: every channel is subscribed; the session polls /meta/connect.
	stateConnected
)

// session is the Bayeux session with the server: token, client id, advice, failure streak. One goroutine at a
// time drives it (Start, then the connect loop, then Close once the loop has stopped), so its fields have no
// lock; what it shares with Next and the decode stage lives in the buffer.
type session struct {
	cfg      Config
	log      stream.Logger
	obs      stream.Observer
	tr       *transport
	split    *wire.Splitter
	stage    *stage
	buf      *buffer
	channels []string

	state             sessionState
	token, endpoint   string
	clientID          string // valid when state is not stateDisconnected
	extReplay         bool
	adv               wire.Advice
	msgID             uint64
	streak            int // recoveries since the session was last healthy
	connectsInSession int
	establishedAt     time.Time // when the session was last (re-)established

	waitHook func(time.Duration) // tests: told every wait recovery chose, before it starts
}

// start is Start's part: token, handshake, subscriptions. A handshake refused for authentication gets one token
// refresh and one more try.
func (s *session) start(ctx context.Context) error {
	tok, err := s.cfg.Auth.Token(ctx)
	if err != nil {
		return fmt.Errorf("getting an access token: %w", err)
	}
	s.setToken(tok.AccessToken, tok.InstanceURL)
	err = s.establish(ctx)
	if err != nil && kindOf(err) == kindAuth && ctx.Err() == nil {
		s.log.Warnf("Salesforce refused the access token (%v); getting a new one", err)
		if rerr := s.refresh(ctx); rerr != nil {
			return rerr
		}
		err = s.establish(ctx)
	}
	if err == nil {
		s.log.Infof("Salesforce streaming session started on %s: %d channel(s) subscribed", s.endpoint, len(s.channels))
	}
	return err
}

func (s *session) setToken(token, instanceURL string) {
	s.cfg.Redactor.AddToken(token)
	s.token = token
	s.endpoint = strings.TrimRight(instanceURL, "/") + "/cometd/" + s.cfg.APIVersion
}

func (s *session) refresh(ctx context.Context) error {
	s.obs.TokenRefresh()
	tok, err := s.cfg.Auth.Refresh(ctx, sfauth.Token{AccessToken: s.token})
	if err != nil {
		return &stream.AuthError{Err: fmt.Errorf("refreshing the access token: %w", err)}
	}
	s.setToken(tok.AccessToken, tok.InstanceURL)
	return nil
}

func (s *session) nextID() string {
	s.msgID++
	return strconv.FormatUint(s.msgID, 10)
}

// exchange sends one message and splits the answer: its replies, and where its data messages are. A malformed
// answer is an error and hands on nothing. The data messages of any answer go to the decode stage (a Bayeux
// server may piggy-back events on any reply); for every request but /meta/connect, exchange then waits until
// they are queued, so that what follows (a subscribe) starts from them.
func (s *session) exchange(ctx context.Context, req wire.Request, timeout time.Duration) (wire.Answer, error) {
	body, err := wire.EncodeRequest(req)
	if err != nil {
		return wire.Answer{}, fmt.Errorf("encoding %s: %w", req.Channel, err)
	}
	raw, err := s.tr.post(ctx, s.endpoint, s.token, body, timeout)
	if err != nil {
		return wire.Answer{}, err
	}
	ans, err := s.split.Split(raw)
	if err != nil {
		return wire.Answer{}, err
	}
	if req.Channel == wire.ChannelConnect || !ans.HasData() {
		return ans, nil
	}
	if !s.stage.handOn(ctx, &ans) || !s.buf.waitStageIdle(ctx) {
		return wire.Answer{}, ctx.Err()
	}
	return ans, nil
}

// establish handshakes and subscribes every channel, one request each, in order. If a subscription fails the
// new client is disconnected, so a retry does not hold two slots of the org's concurrent-client limit.
func (s *session) establish(ctx context.Context) error {
	s.state = stateDisconnected
	// Every subscribe starts from the last queued replay ids: the events of answers still in the decode stage
	// must be queued first.
	if !s.buf.waitStageIdle(ctx) {
		return ctx.Err()
	}
	if err := s.handshake(ctx); err != nil {
		return err
	}
	for _, ch := range s.channels {
		if err := s.subscribe(ctx, ch); err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrUnknownClient) {
				s.disconnect(ctx, closeDisconnectTimeout)
			}
			s.state = stateDisconnected
			return err
		}
	}
	s.state = stateConnected
	s.connectsInSession = 0
	s.establishedAt = time.Now()
	return nil
}

func (s *session) handshake(ctx context.Context) error {
	req := wire.HandshakeRequest(s.nextID())
	ans, err := s.exchange(ctx, req, s.cfg.RequestTimeout)
	if err != nil {
		return fmt.Errorf("handshaking with %s: %w", s.endpoint, err)
	}
	r, ok := wire.FindReply(ans.Replies, wire.ChannelHandshake, req.ID)
	if !ok {
		return fmt.Errorf("handshaking with %s: no /meta/handshake reply in the answer", s.endpoint)
	}
	if !r.Successful || r.ClientID == "" {
		return fmt.Errorf("handshaking with %s: %w", s.endpoint, classify(s.redacted(r), wire.ChannelHandshake, "", 0))
	}
	// Salesforce handshake replies carry no advice; a generic server's may. Keep its timings, but always go on
	// to subscribe and connect: following stale advice after a handshake was aiocometd's handshake storm.
	if r.HasAdvice {
		s.adv.Merge(r.Advice)
	}
	s.adv.Reconnect = wire.ReconnectRetry
	s.state = stateHandshaken
	s.clientID = r.ClientID
	s.extReplay = r.ExtReplay
	s.log.Debugf("Salesforce handshake done (replay extension: %t)", s.extReplay)
	return nil
}

// subscribe subscribes one channel from its replay position. An invalid replay id is replaced per
// OnInvalidReplayID (loudly: error log and Observer.ReplayFallback), on the first subscribe and on every
// resubscribe alike.
func (s *session) subscribe(ctx context.Context, channel string) error {
	key := stream.ChannelKey(channel)
	id := s.buf.position(key)
	fellBack := false
	for {
		req := wire.SubscribeRequest(s.nextID(), s.clientID, channel, id, s.extReplay)
		ans, err := s.exchange(ctx, req, s.cfg.RequestTimeout)
		if err != nil {
			return fmt.Errorf("subscribing to %s: %w", channel, err)
		}
		r, ok := wire.FindReply(ans.Replies, wire.ChannelSubscribe, req.ID)
		if !ok {
			return fmt.Errorf("subscribing to %s: no /meta/subscribe reply in the answer", channel)
		}
		if r.Successful {
			log := stream.WithFields(s.log, stream.LogFieldChannel, key)
			if s.extReplay {
				stream.WithFields(log, stream.LogFieldReplayID, id).Debugf("subscribed to %s from replay id %d", channel, id)
			} else {
				log.Debugf("subscribed to %s (the server has no replay extension)", channel)
			}
			return nil
		}
		err = classify(s.redacted(r), wire.ChannelSubscribe, channel, id)
		var invalid *stream.InvalidReplayError
		if !errors.As(err, &invalid) || fellBack {
			return fmt.Errorf("subscribing to %s: %w", channel, err)
		}
		policy := s.cfg.OnInvalidReplayID
		s.obs.ReplayFallback(channel, policy)
		log := stream.WithFields(s.log, stream.LogFieldChannel, key, stream.LogFieldReplayID, invalid.ReplayID.Seq, stream.LogFieldReason, "invalid_replay_id")
		switch policy {
		case stream.ReplayFallbackEarliest:
			id = ReplayEarliest
		case stream.ReplayFallbackLatest:
			id = ReplayLatest
		default:
			log.Errorf("Salesforce refused replay id %d on %s (%s); on_invalid_replay_id is fail, stopping",
				invalid.ReplayID, channel, invalid.Err)
			return fmt.Errorf("subscribing to %s: %w", channel, err)
		}
		log.Errorf("Salesforce refused replay id %d on %s (%s); resubscribing from %s (%d) as on_invalid_replay_id says",
			invalid.ReplayID, channel, invalid.Err, policy, id)
		s.buf.fallBack(key, id)
		fellBack = true
	}
}

// disconnect sends /meta/disconnect for the current client, best effort, and forgets the client.
func (s *session) disconnect(ctx context.Context, timeout time.Duration) {
	if s.state == stateDisconnected {
		return
	}
	req := wire.DisconnectRequest(s.nextID(), s.clientID)
	s.state = stateDisconnected
	body, err := wire.EncodeRequest(req)
	if err != nil {
		return
	}
	// The answer is not decoded: events in it would reach a queue nobody reads, or be re-delivered anyway by
	// the resubscribe that follows.
	if _, err := s.tr.post(ctx, s.endpoint, s.token, body, timeout); err != nil && ctx.Err() == nil {
		s.log.Debugf("sending /meta/disconnect: %v", err)
	}
}

// run is the connect loop: one long poll at a time, then recovery when the session breaks. It owns the session
// until ctx (the client's close context) ends.
func (s *session) run(ctx context.Context) {
	var tr *trouble
	for ctx.Err() == nil {
		if tr != nil {
			if !s.recover(ctx, tr) {
				return
			}
			tr = nil
			continue
		}
		if s.buf.full() {
			tr = &trouble{reason: stream.ReconnectBackpressure, next: drainThenHandshake}
			continue
		}
		tr = s.poll(ctx)
	}
}

// poll sends one /meta/connect and interprets the answer, returning nil while the session is healthy.
func (s *session) poll(ctx context.Context) *trouble {
	req := wire.ConnectRequest(s.nextID(), s.clientID)
	ans, err := s.exchange(ctx, req, s.adv.ConnectTimeout(s.cfg.ConnectTimeoutMargin))
	if ctx.Err() != nil {
		return nil
	}
	if err == nil && !s.stage.handOn(ctx, &ans) {
		return nil // closing
	}
	if err != nil {
		if kindOf(err) == kindAuth {
			return &trouble{reason: stream.ReconnectAuth, err: err, next: refreshThenHandshake}
		}
		if errors.Is(err, wire.ErrAnswerTooLarge) {
			return &trouble{reason: stream.ReconnectAnswerTooLarge, err: err, next: handshakeAgain}
		}
		return &trouble{reason: stream.ReconnectConnectionError, err: err, next: handshakeAgain}
	}
	r, ok := wire.FindReply(ans.Replies, wire.ChannelConnect, req.ID)
	if ok && r.HasAdvice {
		s.adv.Merge(r.Advice)
	}
	switch {
	case ok && !r.Successful:
		return s.connectRefused(r)
	case ans.Disconnect:
		s.serverEndedWorkingSession()
		return &trouble{reason: stream.ReconnectServerDisconnect, err: errors.New("the server sent /meta/disconnect"),
			wait: s.adv.Interval, next: handshakeAgain}
	case !ok:
		return &trouble{reason: stream.ReconnectConnectionError, err: errors.New("no /meta/connect reply in the answer"),
			next: handshakeAgain}
	}
	s.connectsInSession++
	if s.connectsInSession >= 2 {
		s.streak = 0 // the session survived a full long poll: the failure streak is over
	}
	switch s.adv.Reconnect {
	case wire.ReconnectHandshake:
		return &trouble{reason: stream.ReconnectAdviceHandshake, err: errors.New("the server advised a new handshake"),
			wait: s.adv.Interval, next: handshakeAgain}
	case wire.ReconnectNone:
		s.adv.Reconnect = wire.ReconnectRetry
		return &trouble{reason: stream.ReconnectAdviceNone, err: errors.New("the server advised not to reconnect"),
			next: handshakeAgain}
	}
	stream.Sleep(ctx, s.adv.Interval, nil) // Close ends it early; the loop then sees ctx done
	return nil
}

// serverEndedWorkingSession ends the failure streak when the server closes, with its own /meta/disconnect, a
// session that worked: one that completed a /meta/connect and lasted at least Backoff.Initial. Salesforce does
// this on purpose (advice handshake, interval 0), and the client then handshakes at once as advised, instead of
// waiting out a streak that earlier faults left growing (that wait made such a recovery take 14-16 s). A server
// that disconnects every session sooner than that still meets the growing backoff, so it cannot cause a
// handshake storm.
func (s *session) serverEndedWorkingSession() {
	if s.connectsInSession >= 1 && time.Since(s.establishedAt) >= s.cfg.Backoff.Initial {
		s.streak = 0
	}
}

// redacted returns r with its server texts quoted through the redactor: a server or a proxy may echo the
// Authorization header or a secret into them, and they end up in errors and logs.
func (s *session) redacted(r wire.Reply) wire.Reply {
	r.Error = s.cfg.Redactor.QuoteString(r.Error)
	r.FailureReason = s.cfg.Redactor.QuoteString(r.FailureReason)
	return r
}
