package sfemu

import (
	"errors"
	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/orgstream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Record mutations: the generator, -preload of a change event channel and POST /emulator/mutate change records,
// and the events follow from the changes.

const (
	// maxMutations is the changes one POST /emulator/mutate may ask for: an answer within a request's time.
	// A start-up preload is not a request and applies any count in chunks of this size.
	maxMutations       = 1_000_000
	maxListedMutations = 1000
	// flushEvery bounds the transactions waiting in the org's change log during a large mutation.
	flushEvery = 1000
	// maxGrownRecords is the live records of an object above which random changes stop creating records.
	maxGrownRecords = 200_000
)

// Mutate makes count random changes to records of an object (creates, updates, deletes and undeletes, as
// records allow) and publishes what they cause; the object is selected for Change Data Capture. It serves
// POST /emulator/mutate, so count is at most the per-request cap.
func (s *Server) Mutate(object string, count int, events string) (MutateResponse, error) {
	obj, ok := s.org.Object(object)
	switch {
	case !ok || !takesChanges(obj):
		return MutateResponse{}, errNoChanges(object)
	case count <= 0:
		return MutateResponse{}, fmt.Errorf("mutating %s: count %d: must be at least 1", obj.Name, count)
	case count > s.mutationCap():
		return MutateResponse{}, fmt.Errorf("mutating %s: count %d is over the limit of %d changes per request; send several requests", obj.Name, count, s.mutationCap())
	case events != "" && events != orgstream.TagGap && events != orgstream.TagOverflow:
		return MutateResponse{}, fmt.Errorf("mutating %s: events %q is not one of \"\" (change events), \"gap\" or \"overflow\"", obj.Name, events)
	}
	if err := s.SelectEntities(obj.Name); err != nil {
		return MutateResponse{}, err
	}
	return s.mutate(obj, count, events), nil
}

// takesChanges reports whether random changes may be made to an object's records.
func takesChanges(obj *org.Object) bool { return obj.CDC && obj.Name != "User" }

func errNoChanges(object string) error {
	return fmt.Errorf("mutating %q: not an object that takes generated changes (Account, Contact, Opportunity, Lead, Case or a declared custom object)", object)
}

// mutationCap is the changes one Mutate may make.
func (s *Server) mutationCap() int {
	if s.cfg.mutationCap > 0 {
		return s.cfg.mutationCap
	}
	return maxMutations
}

// mutate makes count changes to a selected object, for any count.
func (s *Server) mutate(obj *org.Object, count int, events string) MutateResponse {
	resp := MutateResponse{Object: obj.Name, Events: events, Changes: map[string]int{}, RecordIDs: []string{}}
	origin := "com/salesforce/api/soap/" + LatestAPIVersion + ";client=SfdcInternalAPI/"
	if events == orgstream.TagOverflow {
		ops := make([]org.Op, 0, count)
		for range count {
			ops = append(ops, s.randomOp(obj))
		}
		results, _ := s.org.ApplyTagged(origin, orgstream.TagOverflow, false, ops...)
		s.tally(&resp, ops, results)
		s.flushChanges()
		return resp
	}
	for i := range count {
		op := s.randomOp(obj)
		results, _ := s.org.ApplyTagged(origin, events, false, op)
		s.tally(&resp, []org.Op{op}, results)
		if (i+1)%flushEvery == 0 {
			s.flushChanges()
		}
	}
	s.flushChanges()
	return resp
}

func (s *Server) tally(resp *MutateResponse, ops []org.Op, results []org.OpResult) {
	for i, res := range results {
		if !res.Success {
			s.logf("mutating: %v", res.Errors[0])
			continue
		}
		kind := map[org.OpKind]string{org.OpCreate: "CREATE", org.OpUpdate: "UPDATE", org.OpDelete: "DELETE", org.OpUndelete: "UNDELETE"}[ops[i].Kind]
		if resp.Events == orgstream.TagGap {
			kind = "GAP_" + kind
		}
		resp.Changes[kind]++
		s.counters.mutations.Add(1)
		if len(resp.RecordIDs) < maxListedMutations {
			resp.RecordIDs = append(resp.RecordIDs, res.ID)
		}
	}
}

// randomOp picks a change the records allow: creates and updates three times as often as deletes and
// undeletes, as the generated mix always was, and no creates once the object holds maxGrownRecords.
func (s *Server) randomOp(obj *org.Object) org.Op {
	kinds := [...]org.OpKind{org.OpCreate, org.OpCreate, org.OpCreate, org.OpUpdate, org.OpUpdate, org.OpUpdate, org.OpDelete, org.OpUndelete}
	kind := kinds[s.org.Intn(len(kinds))]
	if kind == org.OpCreate && s.org.Count(obj) >= maxGrownRecords {
		kind = org.OpUpdate // a long-running generator changes records instead of growing the org without bound
	}
	switch kind {
	case org.OpUpdate:
		if id := s.org.RandomID(obj, false); id != "" {
			return org.Op{Kind: org.OpUpdate, ID: id, Fields: s.org.FakeUpdate(obj)}
		}
	case org.OpDelete:
		if id := s.org.RandomID(obj, false); id != "" {
			return org.Op{Kind: org.OpDelete, ID: id}
		}
	case org.OpUndelete:
		if id := s.org.RandomID(obj, true); id != "" {
			return org.Op{Kind: org.OpUndelete, ID: id}
		}
	}
	return org.Op{Kind: org.OpCreate, Object: obj.Name, Fields: s.org.FakeFields(obj)}
}

// defineChannel makes a channel named by -preload or -generate exist: its platform event type is defined, its
// object selected for Change Data Capture, its topic or StreamingChannel record in place.
func (s *Server) defineChannel(name string) {
	s.store.Lock()
	defer s.store.Unlock()
	if KindOf(name) == KindUnknown || strings.Contains(name, "?") {
		return
	}
	s.defineLocked(name)
	if _, err := s.store.ChannelLocked(name); err != nil {
		s.logf("defining %s: %v", name, err)
	}
}

// recordsBacked lists the objects whose changes feed a change event channel: the object of a
// /data/<Object>ChangeEvent channel, or every selected object for /data/ChangeEvents (the five standard
// ones when nothing is selected). Other channels carry generated payloads.
func (s *Server) recordsBacked(channel string) []*org.Object {
	s.store.Lock()
	defer s.store.Unlock()
	if obj, ok := s.router.ChangeEventObject(channel); ok {
		return []*org.Object{obj}
	}
	if channel != "/data/ChangeEvents" {
		return nil
	}
	if out := s.router.SelectedObjects(); len(out) > 0 {
		return out
	}
	standard := []string{"Account", "Contact", "Opportunity", "Lead", "Case"}
	_ = s.router.Select(standard...) // standard objects that support Change Data Capture
	return s.router.SelectedObjects()
}

// preload makes the events -preload asks for; what it cannot make is kept for PreloadErr.
func (s *Server) preload(p ChannelCount) {
	if _, _, err := s.produce(p.Channel, p.Count); err != nil {
		s.preloadErr = errors.Join(s.preloadErr, fmt.Errorf("preloading %d events on %s: %w", p.Count, p.Channel, err))
	}
}

// PreloadErr is what New could not preload (nil when every preloaded channel holds the events asked for), so
// that a command refuses to serve a backlog other than the one it was told to.
func (s *Server) PreloadErr() error { return s.preloadErr }

// produce makes n events on a channel for -preload and -generate: record changes where the channel is
// records-backed, generated payloads elsewhere. It returns the channel's first and last new replay ids. A
// records-backed channel gets exactly n events, whatever the per-request cap: the changes are made in chunks of
// at most the cap, and a change that caused no event (one the records refused) is made up for.
func (s *Server) produce(channel string, n int) (first, last int64, err error) {
	objs := s.recordsBacked(channel)
	if len(objs) == 0 {
		return s.PublishN(channel, n)
	}
	s.store.Lock()
	ch, err := s.store.ChannelLocked(channel)
	var beforeID, beforeCount int64
	if err == nil {
		beforeID, beforeCount = ch.LastID(), ch.Published()
	}
	s.store.Unlock()
	if err != nil {
		return 0, 0, fmt.Errorf("producing on %s: %w", channel, err)
	}
	for _, obj := range objs {
		if !takesChanges(obj) {
			return 0, 0, fmt.Errorf("producing on %s: %w", channel, errNoChanges(obj.Name))
		}
	}
	if err := s.SelectEntities(objectNames(objs)...); err != nil {
		return 0, 0, fmt.Errorf("producing on %s: %w", channel, err)
	}
	made := func() int {
		s.store.Lock()
		defer s.store.Unlock()
		return int(ch.Published() - beforeCount)
	}
	for done := 0; done < n; {
		missing := n - done
		for i, obj := range objs {
			share := missing / len(objs)
			if i < missing%len(objs) {
				share++
			}
			for share > 0 {
				chunk := min(share, s.mutationCap())
				s.mutate(obj, chunk, "")
				share -= chunk
			}
		}
		now := made()
		if now == done {
			return 0, 0, fmt.Errorf("producing on %s: %d changes caused no event (%d of %d made)", channel, missing, done, n)
		}
		done = now // at least n in the end; more only when other changes reach the channel meanwhile
	}
	s.store.Lock()
	defer s.store.Unlock()
	r := ch.Retained()
	i := ch.IndexAfter(beforeID)
	if i < len(r) {
		first = r[i].ID
	}
	return first, ch.LastID(), nil
}

func objectNames(objs []*org.Object) []string {
	names := make([]string, len(objs))
	for i, obj := range objs {
		names[i] = obj.Name
	}
	return names
}
