package input

import (
	"context"
	"errors"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux"
)

// The input's part of recovery. The bayeux client recovers a session by itself; what reaches the input is a
// client that ended (dropClient) or a Connect that failed (connectFailed). Both wait by bayeux.Classify, the
// classification the client uses for its own waits: the ordinary backoff for a retryable failure, the long one
// for a limit or a permanent failure.

// connectFailed logs what the framework's own "Failed to connect" line does
// not say (that the cause will not go away by itself) and wraps err in the
// back-off the framework waits before the next Connect.
func (i *ssiInput) connectFailed(err error) error {
	class := bayeux.Classify(err)
	var invalid *bayeux.InvalidReplayError
	isInvalid := errors.As(err, &invalid)
	i.mu.Lock()
	i.failures++
	failures := i.failures
	// The hint is said once per streak (the framework logs every failure anyway); an invalid replay id has its
	// own line, said every time.
	hint := class == bayeux.Permanent && !isInvalid && !i.hinted
	if hint {
		i.hinted = true
	}
	i.mu.Unlock()

	if isInvalid {
		// on_invalid_replay_id is fail: say so every time (bayeux counts it
		// through the Observer).
		i.log.Errorf("Not consuming: %v; on_invalid_replay_id is fail, so the input stops here until the checkpoint %q is fixed or deleted, or on_invalid_replay_id is changed",
			err, checkpointKey(i.conf.CheckpointKey, invalid.Channel))
		return service.NewErrBackOff(err, i.conf.BackoffLong)
	}
	switch class {
	case bayeux.Permanent:
		if hint {
			i.log.Errorf("Salesforce refused the input's configuration or credentials: %v. This does not fix itself: check org_url, auth and the user's permissions (API Enabled, Streaming API, access to the channels). Retrying every %v.%s", err, i.conf.BackoffLong, lockoutHint(err))
		}
		return service.NewErrBackOff(err, i.conf.BackoffLong)
	case bayeux.Limit:
		return service.NewErrBackOff(err, i.conf.BackoffLong)
	}
	return service.NewErrBackOff(err, bayeux.BackoffConfig{Initial: i.conf.BackoffInitial, Max: i.conf.BackoffMax}.Delay(failures))
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

// dropClient forgets a client that ended (or is abandoned) and closes it; the
// next Connect starts a new one from the acknowledged positions. Events the
// old client handed out but that were not acknowledged yet are delivered
// again.
func (i *ssiInput) dropClient(client *bayeux.Client, cause error) {
	i.mu.Lock()
	if i.client == client {
		i.client = nil
	}
	closed := i.closed
	i.mu.Unlock()
	closeClient(client)
	if closed || errors.Is(cause, bayeux.ErrClosed) {
		return
	}
	if terminal := client.Err(); terminal != nil {
		// The client stopped for good (an invalid replay id with on_invalid_replay_id fail): the next Connect
		// returns its error, explained by connectFailed, without starting a client to meet it again.
		i.mu.Lock()
		i.terminal = terminal
		i.mu.Unlock()
		i.log.Errorf("Salesforce session ended: %v", cause)
		return
	}
	i.log.Warnf("Salesforce session ended, reconnecting from the last acknowledged replay ids: %v", cause)
}

func closeClient(client *bayeux.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
	defer cancel()
	_ = client.Close(ctx)
}
