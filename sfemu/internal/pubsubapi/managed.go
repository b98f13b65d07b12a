package pubsubapi

import (
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Managed event subscriptions (beta): a ManagedEventSubscription Tooling record names a topic, where a first
// subscribe starts (defaultReplay), where a subscription whose committed replay id is no longer valid restarts
// (errorRecoveryReplay) and whether it runs (state). ManagedSubscribe streams its events; the client commits replay
// ids on the same stream, and a later ManagedSubscribe resumes after the last committed one (docs/emulator.md,
// "Managed subscriptions").

const (
	// ManagedKeyPrefix is the key prefix of ManagedEventSubscription ids.
	ManagedKeyPrefix = "18x"
	// ManagedCommitTimeout: a managed subscription that commits nothing for this long is closed.
	ManagedCommitTimeout = 1800 * time.Second

	ErrCodeManagedActive = "sfdc.platform.eventbus.grpc.managed.subscription.already.active"

	replayLatest   = "LATEST"
	replayEarliest = "EARLIEST"
	managedRun     = "RUN"
	managedStop    = "STOP"
)

// managedSubscription is one ManagedEventSubscription record and its server-side state; guarded by Server.mu.
type managedSubscription struct {
	id, name, label, topic        string
	defaultReplay, recoveryReplay string
	state                         string
	created                       time.Time
	committed                     int64         // the committed replay id; 0: none
	active                        bool          // a ManagedSubscribe stream holds the subscription
	stop                          chan struct{} // closed to end the active stream (stopped or deleted)
}

// managedRegistry holds the records by id; guarded by Server.mu.
type managedRegistry struct {
	byID map[string]*managedSubscription
	seq  uint64
}

func (r *managedRegistry) byNameLocked(name string) *managedSubscription {
	for _, m := range r.byID {
		if m.name == name {
			return m
		}
	}
	return nil
}

// lookupLocked finds a record by id (15 or 18 characters) or developer name.
func (r *managedRegistry) lookupLocked(id, name string) *managedSubscription {
	if id != "" {
		if full, ok := org.NormalizeID(id); ok {
			return r.byID[full]
		}
		return nil
	}
	return r.byNameLocked(name)
}

// endLocked ends the active stream of m, if any (STOP, or the record deleted).
func (m *managedSubscription) endLocked() {
	if m.active && m.stop != nil {
		close(m.stop)
		m.stop = nil
	}
}

// ManagedSubscribe serves a managed subscription: the first request names it (subscription_id, else
// developer_name); it must be in the RUN state and not held by another stream. Delivery starts after the committed
// replay id; with none, at defaultReplay; with one that is no longer valid, at errorRecoveryReplay. Commits
// (commit_replay_id_request) are answered with a CommitReplayResponse; several may be answered by one.
func (p *pubsubService) ManagedSubscribe(stream eventbusv1.PubSub_ManagedSubscribeServer) error {
	s := p.s
	ctx := stream.Context()
	if err := s.authenticate(ctx, stream.SetTrailer); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	s.deps.Store.Lock()
	m := s.pubsub.managed.lookupLocked(first.GetSubscriptionId(), first.GetDeveloperName())
	if m == nil {
		s.deps.Store.Unlock()
		return s.rpcError(stream.SetTrailer, codes.NotFound, "", fmt.Sprintf("The managed subscription %q was not found.", first.GetSubscriptionId()+first.GetDeveloperName()))
	}
	if m.state != managedRun {
		s.deps.Store.Unlock()
		return s.rpcError(stream.SetTrailer, codes.FailedPrecondition, "", fmt.Sprintf("The managed subscription %s is in the %s state.", m.name, m.state))
	}
	if m.active {
		s.deps.Store.Unlock()
		return s.rpcError(stream.SetTrailer, codes.AlreadyExists, ErrCodeManagedActive,
			fmt.Sprintf("The managed subscription %s is already active.", m.name))
	}
	kind, ok := pubsubTopic(m.topic)
	ok = ok && s.deps.ChannelDefined(m.topic)
	var ch *eventstore.Channel
	if ok {
		ch, err = s.deps.Store.ChannelLocked(m.topic)
	}
	if !ok || err != nil {
		s.deps.Store.Unlock()
		return s.topicNotFound(stream.SetTrailer, m.topic)
	}
	s.deps.Store.PruneLocked(ch, s.deps.Clock.Now())
	start := m.defaultReplay
	cursor := int64(-1)
	if m.committed != 0 {
		if s.deps.Store.ReplayValidLocked(ch, m.committed) || s.deps.Store.PositionValidLocked(ch, m.committed) {
			cursor = m.committed
		} else {
			start = m.recoveryReplay
		}
	}
	if cursor < 0 {
		cursor = s.deps.Store.PositionLocked(ch)
		if r := ch.Retained(); start == replayEarliest && len(r) > 0 {
			cursor = r[0].ID - 1
		}
	}
	m.active = true
	stop := make(chan struct{})
	m.stop = stop
	s.deps.Store.Unlock()
	defer func() {
		s.deps.Store.Lock()
		m.active = false
		m.stop = nil
		s.deps.Store.Unlock()
	}()
	s.deps.Logf("pubsub: managed subscribe %s (%s) after %d, %d requested", m.name, m.topic, cursor, first.GetNumRequested())

	commit := func(req *eventbusv1.CommitReplayRequest) *eventbusv1.CommitReplayResponse {
		resp := &eventbusv1.CommitReplayResponse{CommitRequestId: req.GetCommitRequestId(), ReplayId: req.GetReplayId(),
			ProcessTime: s.deps.Clock.Now().UnixMilli()}
		id, ok := replayFromBytes(req.GetReplayId())
		s.deps.Store.Lock()
		defer s.deps.Store.Unlock()
		if !ok || id > ch.LastID() {
			resp.Error = &eventbusv1.Error{Code: eventbusv1.ErrorCode_COMMIT, Msg: "The replay ID to commit is not a replay ID of the topic."}
			return resp
		}
		m.committed = id
		return resp
	}
	st := &eventStream{
		topic: m.topic, kind: kind, ch: ch, cursor: cursor, requested: first.GetNumRequested(),
		recv: func() (fetch, error) {
			req, err := stream.Recv()
			if err != nil {
				return fetch{}, err
			}
			return fetch{num: req.GetNumRequested(), commit: req.GetCommitReplayIdRequest()}, nil
		},
		send: func(d delivery) error {
			events := make([]*eventbusv1.ConsumerEvent, len(d.events))
			for i, enc := range d.events {
				ce, err := consumerEvent(enc)
				if err != nil {
					return status.Error(codes.Internal, err.Error())
				}
				events[i] = ce
			}
			return stream.Send(&eventbusv1.ManagedFetchResponse{Events: events, LatestReplayId: d.latest, RpcId: s.rpcID(),
				PendingNumRequested: d.pending, CommitResponse: d.commit})
		},
		setTrailer: stream.SetTrailer,
		commit:     commit,
		// The text Salesforce sends (observed live).
		commitTimeout: ManagedCommitTimeout,
		commitTimeoutErr: func() error {
			return s.rpcError(stream.SetTrailer, codes.DeadlineExceeded, "",
				fmt.Sprintf("No CommitReplayRequests sent in the last %d seconds. Closing managed subscription.", int(ManagedCommitTimeout/time.Second)))
		},
		stop: stop,
		stopErr: func() error {
			return s.rpcError(stream.SetTrailer, codes.Aborted, "", fmt.Sprintf("The managed subscription %s was stopped.", m.name))
		},
	}
	// A commit in the first request counts too.
	if c := first.GetCommitReplayIdRequest(); c != nil {
		if err := stream.Send(&eventbusv1.ManagedFetchResponse{LatestReplayId: replayBytes(cursor), RpcId: s.rpcID(),
			PendingNumRequested: min(max(first.GetNumRequested(), 0), maxNumRequested), CommitResponse: commit(c)}); err != nil {
			return err
		}
	}
	return s.serveStream(ctx, st)
}
