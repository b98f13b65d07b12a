package input

import (
	"errors"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
)

// recovery is the input's part of recovering from failures. The bayeux client
// recovers a session by itself; what reaches the input is a Connect that
// failed and a client that ended. Connect waits by bayeux.Classify, the
// classification the client uses for its own waits: the ordinary back-off
// for a retryable failure, the long one for a limit or a permanent failure.
type recovery struct {
	log           *service.Logger      // the session's lines
	logs          inputLoggers         // for the lines about one channel
	backoff       bayeux.BackoffConfig // Initial and Max: the ordinary back-off
	long          time.Duration        // backoff.long_interval
	checkpointKey string               // checkpoint_cache_key, for the invalid-replay-id line
	pubsub        bool                 // api: pubsub, whose checkpoint keys differ

	mu       sync.Mutex
	failures int  // consecutive failed Connects, for the back-off
	hinted   bool // the permanent-failure hint was logged in this streak
	// terminal is the error that stopped the last client for good; the next
	// Connect returns it instead of starting a client to meet it again.
	terminal error
}

// connected ends a failure streak.
func (r *recovery) connected() {
	r.mu.Lock()
	r.failures, r.hinted = 0, false
	r.mu.Unlock()
}

// takeTerminal returns the terminal error of the last client, once.
func (r *recovery) takeTerminal() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.terminal
	r.terminal = nil
	return err
}

// clientEnded logs why a client the input dropped ended, and keeps its
// terminal error, if any, for the next Connect.
func (r *recovery) clientEnded(client transport, cause error) {
	if terminal := client.Err(); terminal != nil {
		// An invalid replay id with on_invalid_replay_id fail: the next
		// Connect returns it, explained by connectFailed.
		r.mu.Lock()
		r.terminal = terminal
		r.mu.Unlock()
		r.log.With(logFieldReason, classReason(classify(terminal))).Errorf("Salesforce session ended: %v", cause)
		return
	}
	r.log.With(logFieldReason, classReason(classify(cause))).Warnf("Salesforce session ended, reconnecting from the last acknowledged replay ids: %v", cause)
}

// connectFailed logs what the framework's own "Failed to connect" line does
// not say (that the cause will not go away by itself) and wraps err in the
// back-off the framework waits before the next Connect.
func (r *recovery) connectFailed(err error) error {
	class := classify(err)
	invalidChannel, isInvalid := invalidReplayChannel(err)
	r.mu.Lock()
	r.failures++
	failures := r.failures
	// The hint is said once per streak (the framework logs every failure
	// anyway); an invalid replay id has its own line, said every time.
	hint := class == bayeux.Permanent && !isInvalid && !r.hinted
	if hint {
		r.hinted = true
	}
	r.mu.Unlock()

	if isInvalid {
		// on_invalid_replay_id is fail: say so every time (bayeux counts it
		// through the Observer).
		r.logs.channel(invalidChannel).With(logFieldReason, "invalid_replay_id", logFieldCheckpointKey, r.key(invalidChannel)).Errorf("Not consuming: %v; on_invalid_replay_id is fail, so the input stops here until the checkpoint %q is fixed or deleted, or on_invalid_replay_id is changed",
			err, r.key(invalidChannel))
		return service.NewErrBackOff(err, r.long)
	}
	switch class {
	case bayeux.Permanent:
		if hint {
			r.log.With(logFieldReason, classReason(class)).Errorf("Salesforce refused the input's configuration or credentials: %v. This does not fix itself: check org_url, auth and the user's permissions (API Enabled, Streaming API, access to the channels). Retrying every %v.%s", err, r.long, lockoutHint(err))
		}
		return service.NewErrBackOff(err, r.long)
	case bayeux.Limit:
		return service.NewErrBackOff(err, r.long)
	}
	return service.NewErrBackOff(err, r.backoff.Delay(failures))
}

// lockoutHint is said after a refused login: with a password, every refused
// login counts toward the user's lockout.
func lockoutHint(err error) string {
	var rejected *bayeux.LoginRejectedError
	if !errors.As(err, &rejected) {
		return ""
	}
	return " Salesforce refused the login itself (a wrong or revoked secret, refresh token or certificate, a reset password or security token, a deactivated user): each refused login with a password counts toward the user's lockout (10 failed logins by default), so fix auth soon."
}

// key is the checkpoint key of channel under the configured API.
func (r *recovery) key(channel string) string {
	if r.pubsub {
		return checkpointfmt.PubSubCheckpointKey(r.checkpointKey, channel)
	}
	return checkpointfmt.CheckpointKey(r.checkpointKey, channel)
}

// classify is bayeux.Classify extended to the Pub/Sub client's errors, which
// follow the same taxonomy: a refused subscription (unknown topic, no
// permission) and an invalid replay id are permanent, a limit is a limit.
func classify(err error) bayeux.Class {
	var (
		pe *pubsub.PermissionError
		le *pubsub.LimitError
		ie *pubsub.InvalidReplayError
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &ie):
		return bayeux.Permanent
	case errors.As(err, &le):
		return bayeux.Limit
	}
	return bayeux.Classify(err)
}

// invalidReplayChannel returns the channel of an invalid-replay-id error of
// either client.
func invalidReplayChannel(err error) (string, bool) {
	var (
		be *bayeux.InvalidReplayError
		pe *pubsub.InvalidReplayError
	)
	switch {
	case errors.As(err, &be):
		return be.Channel, true
	case errors.As(err, &pe):
		return pe.Topic, true
	}
	return "", false
}
