package sfemu

import (
	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/orgstream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// Record mutations: the generator, -preload of a change event channel and POST /emulator/mutate change records,
// and the events follow from the changes.

const (
	maxMutations       = 1_000_000
	maxListedMutations = 1000
	// flushEvery bounds the transactions waiting in the org's change log during a large mutation.
	flushEvery = 1000
	// maxGrownRecords is the live records of an object above which random changes stop creating records.
	maxGrownRecords = 200_000
)

// Mutate makes count random changes to records of an object (creates, updates, deletes and undeletes, as
// records allow) and publishes what they cause; the object is selected for Change Data Capture.
func (s *Server) Mutate(object string, count int, events string) (MutateResponse, error) {
	obj, ok := s.org.Object(object)
	switch {
	case !ok || !obj.CDC || obj.Name == "User":
		return MutateResponse{}, fmt.Errorf("mutating %q: not an object that takes generated changes (Account, Contact, Opportunity, Lead, Case or a declared custom object)", object)
	case count <= 0 || count > maxMutations:
		return MutateResponse{}, fmt.Errorf("mutating %s: count %d outside 1..%d", obj.Name, count, maxMutations)
	case events != "" && events != orgstream.TagGap && events != orgstream.TagOverflow:
		return MutateResponse{}, fmt.Errorf("mutating %s: events %q is not one of \"\" (change events), \"gap\" or \"overflow\"", obj.Name, events)
	}
	if err := s.SelectEntities(obj.Name); err != nil {
		return MutateResponse{}, err
	}
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
		return resp, nil
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
	return resp, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if channelKind(name) == KindUnknown || strings.Contains(name, "?") {
		return
	}
	s.defineLocked(name)
	if _, err := s.channelLocked(name); err != nil {
		s.logf("defining %s: %v", name, err)
	}
}

// recordsBacked lists the objects whose changes feed a change event channel: the object of a
// /data/<Object>ChangeEvent channel, or every selected object for /data/ChangeEvents (the five standard
// ones when nothing is selected). Other channels carry generated payloads.
func (s *Server) recordsBacked(channel string) []*org.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// produce makes n events on a channel for -preload and -generate: record changes where the channel is
// records-backed, generated payloads elsewhere. It returns the channel's first and last new replay ids.
func (s *Server) produce(channel string, n int) (first, last int64, err error) {
	objs := s.recordsBacked(channel)
	if len(objs) == 0 {
		return s.PublishN(channel, n)
	}
	s.mu.Lock()
	ch, err := s.channelLocked(channel)
	var before int64
	if err == nil {
		before = ch.lastID
	}
	s.mu.Unlock()
	if err != nil {
		return 0, 0, fmt.Errorf("producing on %s: %w", channel, err)
	}
	share := make([]int, len(objs))
	for i := range n {
		share[i%len(objs)]++
	}
	for i, obj := range objs {
		if share[i] == 0 {
			continue
		}
		if _, err := s.Mutate(obj.Name, share[i], ""); err != nil {
			return 0, 0, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := ch.retained()
	i := ch.indexAfter(before)
	if i < len(r) {
		first = r[i].id
	}
	return first, ch.lastID, nil
}
