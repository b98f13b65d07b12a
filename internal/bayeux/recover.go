package bayeux

import (
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"

	"context"
	"fmt"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// nextAction is how the session comes back after it left stateConnected.
type nextAction int

const (
	// pollAgain: advice retry; the same client polls again after a backoff.
	pollAgain nextAction = iota
	// handshakeAgain: a new handshake, after the advice interval at the start of a failure streak, else the
	// streak's backoff.
	handshakeAgain
	// refreshThenHandshake: Salesforce refused the access token; get a new one, then handshake.
	refreshThenHandshake
	// waitLongThenHandshake: a limit or a busy server; wait Backoff.Long, then handshake.
	waitLongThenHandshake
	// drainThenHandshake: the buffer is full; wait until Next took half of it, then handshake.
	drainThenHandshake
)

// trouble is why the connect loop left stateConnected, and how to come back.
type trouble struct {
	reason stream.ReconnectReason
	err    error         // the cause, logged with Salesforce's text
	wait   time.Duration // the server's advice interval, for the first attempt of a streak
	next   nextAction
}

// connectRefused maps an unsuccessful /meta/connect reply to the recovery it calls for: by Salesforce's cause
// when it names one, else by the server's reconnect advice.
func (s *session) connectRefused(r wire.Reply) *trouble {
	err := fmt.Errorf("polling /meta/connect: %w", classify(s.redacted(r), wire.ChannelConnect, "", 0))
	switch kindOf(err) {
	case kindUnknownClient:
		return &trouble{reason: stream.ReconnectUnknownClient, err: err, wait: s.adv.Interval, next: handshakeAgain}
	case kindAuth:
		// Salesforce answers a revoked token with a server /meta/disconnect plus 401 and advice none.
		return &trouble{reason: stream.ReconnectAuth, err: err, next: refreshThenHandshake}
	case kindBusy:
		return &trouble{reason: stream.ReconnectServerBusy, err: err, next: waitLongThenHandshake}
	case kindLimit:
		return &trouble{reason: stream.ReconnectLimit, err: err, next: waitLongThenHandshake}
	}
	switch s.adv.Reconnect {
	case wire.ReconnectRetry:
		return &trouble{reason: stream.ReconnectConnectError, err: err, next: pollAgain}
	case wire.ReconnectHandshake:
		return &trouble{reason: stream.ReconnectAdviceHandshake, err: err, wait: s.adv.Interval, next: handshakeAgain}
	}
	return &trouble{reason: stream.ReconnectConnectError, err: err, next: handshakeAgain}
}

// recover brings the session back after tr. It counts and logs tr and frees the old client's slot when it may
// still hold one. On pollAgain it only waits a backoff before the next poll; otherwise it waits for the pipeline
// after backpressure, picks the first wait (the advice interval at the start of a failure streak, then jittered
// exponential backoff; Backoff.Long after limits or a busy server) and calls reestablish. It returns false when
// the client is closing or a terminal error stops it.
func (s *session) recover(ctx context.Context, tr *trouble) bool {
	s.obs.Reconnect(tr.reason)
	s.logTrouble(tr)
	if tr.next == pollAgain {
		s.streak++
		wait := s.cfg.Backoff.Delay(s.streak)
		s.noteWait(wait)
		return stream.Sleep(ctx, wait, nil)
	}
	if oldClientMayLive(tr.reason) {
		s.disconnect(ctx, closeDisconnectTimeout)
	}
	s.state = stateDisconnected
	if tr.next == drainThenHandshake {
		if !s.buf.waitDrained(ctx) {
			return false
		}
		s.log.Infof("Salesforce streaming: the pipeline caught up; resubscribing from the last queued replay ids")
	}

	wait := tr.wait
	switch {
	case tr.next == waitLongThenHandshake:
		wait = s.cfg.Backoff.LongDelay()
	case s.streak > 0:
		wait = s.cfg.Backoff.Delay(s.streak)
	}
	return s.reestablish(ctx, wait, tr.next == refreshThenHandshake)
}

// reestablish waits, refreshes the token when Salesforce refused it, handshakes and resubscribes every channel
// from the last queued replay id, until that succeeds. Between attempts it waits by the failure's class: backoff
// for a retryable one (after one immediate token refresh when the token was refused), Backoff.Long for a limit,
// a busy server, a refused login or a refused subscription. It returns false when the client is closing or an
// invalid replay id with policy fail stops it (the terminal error Next and Err then return); it never gives up
// otherwise, and every failure is logged with Salesforce's text.
func (s *session) reestablish(ctx context.Context, wait time.Duration, refresh bool) bool {
	triedRefresh := false
	for {
		s.streak++
		s.noteWait(wait)
		if wait > 0 {
			s.log.Debugf("Salesforce streaming: next handshake in %s", wait.Round(time.Millisecond))
			if !stream.Sleep(ctx, wait, nil) {
				return false
			}
		}
		var err error
		if refresh {
			triedRefresh = true
			err = s.refresh(ctx)
		}
		if err == nil {
			err = s.establish(ctx)
		}
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			s.log.Infof("Salesforce streaming session re-established: %d channel(s) resubscribed from their last replay ids",
				len(s.channels))
			return true
		}
		wait = s.cfg.Backoff.Delay(s.streak)
		refresh = false
		switch {
		case kindOf(err) == kindInvalidReplay:
			s.log.Errorf("Salesforce streaming stopped: %v", err)
			s.buf.setFatal(err)
			return false
		case kindOf(err) == kindLoginRejected:
			refresh = true
			wait = s.cfg.Backoff.LongDelay()
			s.log.Errorf("Salesforce streaming: Salesforce refused the login (%v): the credentials, the connected app or "+
				"the user changed (a revoked refresh token or app authorization, a reset password or security token, a "+
				"deactivated user, a replaced certificate). Each refused login with a password counts toward the user's "+
				"lockout (10 failed logins by default): fix auth soon. Logging in again in %s", err, wait.Round(time.Second))
		case kindOf(err) == kindAuth:
			refresh = true
			if !triedRefresh {
				wait = 0 // refused token: one immediate refresh, then backoff
			}
			s.log.Warnf("Salesforce streaming: %v; retrying with a new token in %s", err, wait.Round(time.Millisecond))
		case stream.Classify(err) != stream.Retryable: // a limit, a busy server, a refused subscription
			wait = s.cfg.Backoff.LongDelay()
			s.log.Errorf("Salesforce streaming: %v; waiting %s before trying again", err, wait.Round(time.Second))
		default:
			s.log.Warnf("Salesforce streaming: reconnecting failed: %v; retrying in %s", err, wait.Round(time.Millisecond))
		}
	}
}

// noteWait tells the test hook about a wait recovery chose.
func (s *session) noteWait(d time.Duration) {
	if s.waitHook != nil {
		s.waitHook(d)
	}
}

func (s *session) logTrouble(tr *trouble) {
	log := stream.WithFields(s.log, stream.LogFieldReason, string(tr.reason))
	switch tr.reason {
	case stream.ReconnectBackpressure:
		log.Infof("Salesforce streaming: %d events wait for the pipeline (max_buffered_events %d); "+
			"disconnecting until half are taken, then resuming from the last queued replay ids",
			s.buf.queuedEvents(), s.cfg.MaxBufferedEvents)
	case stream.ReconnectUnknownClient, stream.ReconnectServerDisconnect, stream.ReconnectAdviceHandshake:
		log.Infof("Salesforce streaming session ended (%v); handshaking again and resubscribing %d channel(s)",
			tr.err, len(s.channels))
	case stream.ReconnectAnswerTooLarge:
		log.Errorf("Salesforce streaming: %v; the answer was discarded and the channels are resubscribed from the "+
			"last queued replay ids (raise MaxAnswerBytes if the server's batches are legitimately this large)", tr.err)
	case stream.ReconnectServerBusy, stream.ReconnectLimit:
		log.Errorf("Salesforce streaming: %v; waiting about %s before handshaking again", tr.err, s.cfg.Backoff.Long)
	case stream.ReconnectAuth:
		log.Warnf("Salesforce streaming: the access token was refused (%v); getting a new token and handshaking again", tr.err)
	default:
		log.Warnf("Salesforce streaming: %v; reconnecting", tr.err)
	}
}

// oldClientMayLive reports whether the server may still hold the client the session leaves behind after a
// recovery for reason r, so that a /meta/disconnect frees its slot of the org's concurrent-client limit before a
// new handshake. After an unknown client, a server disconnect, handshake advice or a refused token the server
// has already dropped it.
func oldClientMayLive(r stream.ReconnectReason) bool {
	switch r {
	case stream.ReconnectUnknownClient, stream.ReconnectServerDisconnect, stream.ReconnectAdviceHandshake, stream.ReconnectAuth:
		return false
	}
	return true
}
