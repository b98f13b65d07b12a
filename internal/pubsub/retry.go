package pubsub

import (
	"context"
	"errors"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// retryPolicy is the CometD client's recovery rule applied to one subscription's streams: the first failure of
// a streak resubscribes at once, each further one waits Backoff.Delay (exponential, jittered, capped at
// Backoff.Max); a limit or a refusal waits Backoff.Long; a refused token is refreshed once per refusal, at once
// the first time in a streak and after the streak's backoff afterwards. Only a healthy stream (one that handed a
// batch on and stayed open for HealthyAfter) ends a streak; an answer alone does not, so a server that answers
// and then fails cannot cause a resubscribe or token storm.
type retryPolicy struct {
	backoff   stream.BackoffConfig
	streak    int  // failures since the last healthy stream
	refreshed bool // a refused token was refreshed at once in this streak
}

// healthy ends the streak.
func (p *retryPolicy) healthy() {
	p.streak, p.refreshed = 0, false
}

// failure counts a failure of kind k and returns the wait before the next subscribe and whether the token must
// be refreshed first.
func (p *retryPolicy) failure(k errKind) (wait time.Duration, refresh bool) {
	p.streak++
	switch k {
	case kindLimit, kindPermanent:
		return p.backoff.LongDelay(), false
	case kindAuth:
		if !p.refreshed {
			p.refreshed = true
			return 0, true
		}
		return p.backoff.Delay(p.streak - 1), true
	}
	if p.streak == 1 {
		return 0, false
	}
	return p.backoff.Delay(p.streak - 1), false
}

// run keeps the subscription open until ctx ends or a failure is final.
func (s *Subscription) run(ctx context.Context) {
	c := s.c
	policy := retryPolicy{backoff: c.cfg.Backoff}
	for {
		res := s.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-c.closed:
			s.fail(ErrClosed)
			return
		default:
		}
		if res.handedOn && res.lasted >= c.cfg.HealthyAfter {
			policy.healthy()
		}
		s.mu.Lock()
		pos := s.position
		s.mu.Unlock()
		kind, wrapped := classify(res.err, s.cfg.Topic, pos)
		if kind == kindAuth && !isStatus(res.err) {
			// The token source itself failed (a refused login, the token endpoint down): it has its own rules;
			// wait like any failure rather than asking it again at once.
			kind = kindRetryable
		}
		wait, refresh := policy.failure(kind)
		switch kind {
		case kindAuth:
			c.obs.Reconnect(stream.ReconnectAuth)
			s.log.Warnf("pubsub %s: token refused (%v); refreshing it and resubscribing in %s", s.cfg.Topic, wrapped,
				wait.Round(time.Millisecond))
		case kindInvalidReplay:
			c.obs.ReplayFallback(s.cfg.Topic, s.cfg.OnInvalidReplayID)
			switch s.cfg.OnInvalidReplayID {
			case stream.ReplayFallbackFail:
				stream.WithFields(s.log, stream.LogFieldReason, "invalid_replay_id").Errorf("pubsub %s: %v; on_invalid_replay_id is fail: stopping", s.cfg.Topic, wrapped)
				s.fail(wrapped)
				return
			case stream.ReplayFallbackLatest:
				s.restartFrom(ReplayLatest)
			default:
				s.restartFrom(ReplayEarliest)
			}
			stream.WithFields(s.log, stream.LogFieldReason, "invalid_replay_id").Errorf("pubsub %s: %v; resubscribing from the %s event in %s", s.cfg.Topic, wrapped,
				s.cfg.OnInvalidReplayID, wait.Round(time.Millisecond))
		case kindLimit, kindPermanent:
			if kind == kindLimit {
				c.obs.Reconnect(stream.ReconnectLimit)
			} else {
				c.obs.Reconnect(stream.ReconnectConnectionError)
			}
			s.log.Errorf("pubsub %s: %v; retrying in %s", s.cfg.Topic, wrapped, wait.Round(time.Second))
		case kindClosed:
			s.fail(ErrClosed)
			return
		case kindTooLarge:
			c.obs.Reconnect(stream.ReconnectAnswerTooLarge)
			s.mu.Lock()
			s.window = smallWindow(c.cfg.MaxResponseBytes)
			s.mu.Unlock()
			s.log.Errorf("pubsub %s: %v; resubscribing in %s, requesting at most %d events at a time", s.cfg.Topic,
				wrapped, wait.Round(time.Millisecond), smallWindow(c.cfg.MaxResponseBytes))
		default:
			c.obs.Reconnect(stream.ReconnectConnectionError)
			s.log.Warnf("pubsub %s: stream ended: %v; resubscribing in %s", s.cfg.Topic, wrapped, wait.Round(time.Millisecond))
		}
		if !stream.Sleep(ctx, wait, c.closed) {
			if ctx.Err() == nil {
				s.fail(ErrClosed) // the Client was closed during the wait
			}
			return
		}
		if refresh {
			if _, err := c.refresh(ctx, res.token); err != nil {
				s.log.Errorf("pubsub %s: refreshing the refused token: %v", s.cfg.Topic, err)
			}
		}
	}
}

// smallWindow is the most events outstanding after a response was refused for its size: as many of the
// largest events Salesforce allows as fit the bound with room for the framing, at least one.
func smallWindow(maxResponseBytes int) int {
	return min(max(maxResponseBytes/maxEventBytes-1, 1), MaxNumRequested)
}

func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}

// restartFrom drops the position so the next stream starts from a preset: a fallback from a refused replay id.
func (s *Subscription) restartFrom(p ReplayPreset) {
	s.mu.Lock()
	s.position, s.preset = nil, p
	s.fallbacks++
	s.mu.Unlock()
}

// streamResult is how one stream ended.
type streamResult struct {
	err      error
	handedOn bool          // the stream handed at least one batch on
	lasted   time.Duration // from the Subscribe call to the failure
	token    sfauth.Token  // the token the stream used, the one to refresh if it was refused
}
