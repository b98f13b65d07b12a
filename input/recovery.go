package input

import (
	"errors"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
)

// recovery is the input's part of recovering from failures. Each client
// recovers its session or streams by itself; what reaches the input is a
// Connect that failed and a Source that ended. Connect waits by
// stream.Classify, the one classification both clients' errors follow (the
// one their own waits use): the ordinary back-off for a retryable failure,
// the long one for a limit or a permanent failure.
type recovery struct {
	log     *service.Logger      // the session's lines
	logs    inputLoggers         // for the lines about one channel
	backoff stream.BackoffConfig // Initial and Max: the ordinary back-off
	long    time.Duration        // backoff.long_interval
	// key is the checkpoint key of a channel under the configured API, for
	// the invalid-replay-id line.
	key func(channel string) string

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
func (r *recovery) clientEnded(client stream.Source, cause error) {
	if terminal := client.Err(); terminal != nil {
		// An invalid replay id with on_invalid_replay_id fail: the next
		// Connect returns it, explained by connectFailed.
		r.mu.Lock()
		r.terminal = terminal
		r.mu.Unlock()
		r.log.With(logFieldReason, classReason(stream.Classify(terminal))).Errorf("Salesforce session ended: %v", cause)
		return
	}
	r.log.With(logFieldReason, classReason(stream.Classify(cause))).Warnf("Salesforce session ended, reconnecting from the last acknowledged replay ids: %v", cause)
}

// connectFailed logs what the framework's own "Failed to connect" line does
// not say (that the cause will not go away by itself) and wraps err in the
// back-off the framework waits before the next Connect.
func (r *recovery) connectFailed(err error) error {
	class := stream.Classify(err)
	invalidChannel, isInvalid := stream.InvalidReplayChannel(err)
	r.mu.Lock()
	r.failures++
	failures := r.failures
	// The hint is said once per streak (the framework logs every failure
	// anyway); an invalid replay id has its own line, said every time.
	hint := class == stream.Permanent && !isInvalid && !r.hinted
	if hint {
		r.hinted = true
	}
	r.mu.Unlock()

	if isInvalid {
		// on_invalid_replay_id is fail: say so every time (the client counts
		// it through the Observer).
		r.logs.channel(invalidChannel).With(logFieldReason, "invalid_replay_id", logFieldCheckpointKey, r.key(invalidChannel)).Errorf("Not consuming: %v; on_invalid_replay_id is fail, so the input stops here until the checkpoint %q is fixed or deleted, or on_invalid_replay_id is changed",
			err, r.key(invalidChannel))
		return service.NewErrBackOff(err, r.long)
	}
	switch class {
	case stream.Permanent:
		if hint {
			r.log.With(logFieldReason, classReason(class)).Errorf("Salesforce refused the input's configuration or credentials: %v. This does not fix itself: check org_url, auth and the user's permissions (API Enabled, Streaming API, access to the channels). Retrying every %v.%s", err, r.long, lockoutHint(err))
		}
		return service.NewErrBackOff(err, r.long)
	case stream.Limit:
		return service.NewErrBackOff(err, r.long)
	}
	return service.NewErrBackOff(err, r.backoff.Delay(failures))
}

// lockoutHint is said after a refused login: with a password, every refused
// login counts toward the user's lockout.
func lockoutHint(err error) string {
	var rejected *stream.LoginRejectedError
	if !errors.As(err, &rejected) {
		return ""
	}
	return " Salesforce refused the login itself (a wrong or revoked secret, refresh token or certificate, a reset password or security token, a deactivated user): each refused login with a password counts toward the user's lockout (10 failed logins by default), so fix auth soon."
}
