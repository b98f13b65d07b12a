package input

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Gap resolution (gap_events: fetch). Salesforce sends a gap event when it
// could not build a change event (the record changed, its values are not
// in the event) and an overflow event when a transaction changed more than
// 100,000 records of an entity. The resolver replaces each gap event by
// the current records it names, read through sObject Collections with the
// snapshot's fields: same change type, the whole record, and
// salesforce_gap_resolved: true. A GAP_DELETE, and a named record that is
// no longer there, become a header-only GAP_DELETE. An overflow becomes the
// entity's records changed since the event's commit time minus
// overflowMargin (GAP_OVERFLOW, whole records), followed by the records
// deleted since then that the recycle bin holds (GAP_DELETE).

// Gap change types.
const (
	gapCreate   = "GAP_CREATE"
	gapUpdate   = "GAP_UPDATE"
	gapDelete   = "GAP_DELETE"
	gapUndelete = "GAP_UNDELETE"
	gapOverflow = "GAP_OVERFLOW"
)

// metricGapFetches counts gap events resolved, by change type.
const metricGapFetches = "salesforce_streaming_gap_fetches"

// overflowMargin widens an overflow's window: records are read from this
// long before the event's commit time, so that a record whose
// SystemModstamp precedes the commit by clock skew or a long transaction is
// still read.
const overflowMargin = 5 * time.Minute

// gapResolver resolves the gap events of batches.
type gapResolver struct {
	org     orgReader
	body    bodyShape // the shape of a resolved event's message
	cdc     cdcConfig
	fetches *service.MetricCounter

	mu      sync.Mutex
	schemas map[string]*objectSchema // by lower-case entity name
}

func newGapResolver(org orgReader, body bodyShape, cdc cdcConfig, res *service.Resources) *gapResolver {
	g := &gapResolver{org: org, body: body, cdc: cdc, schemas: map[string]*objectSchema{}}
	if res != nil {
		g.fetches = res.Metrics().NewCounter(metricGapFetches, "change_type")
	}
	return g
}

// isGap reports whether msg is a gap event.
func isGap(msg *service.Message) bool {
	ct, _ := msg.MetaGetMut(metaChangeType)
	s, _ := ct.(string)
	return strings.HasPrefix(s, "GAP_")
}

// hasGaps reports whether batch holds a gap event.
func hasGaps(batch service.MessageBatch) bool {
	for _, m := range batch {
		if isGap(m) {
			return true
		}
	}
	return false
}

// gapOf reads a gap event's change type, entity, record ids and commit time.
type gapEvent struct {
	changeType, entity string
	ids                []string
	commit             time.Time
}

func gapOf(msg *service.Message) (gapEvent, error) {
	var g gapEvent
	ct, _ := msg.MetaGetMut(metaChangeType)
	g.changeType, _ = ct.(string)
	ent, _ := msg.MetaGetMut(metaEntityName)
	g.entity, _ = ent.(string)
	if !sobjectNameRE.MatchString(g.entity) {
		// The name goes into SOQL and a URL: only an API name is used.
		return g, fmt.Errorf("a %s event whose entity name %q is not an object API name", g.changeType, g.entity)
	}
	ids, _ := msg.MetaGetMut(metaRecordIDs)
	list, _ := ids.([]any)
	for _, v := range list {
		if s, ok := v.(string); ok && s != "" {
			g.ids = append(g.ids, s)
		}
	}
	if ts, _ := msg.MetaGetMut(metaCommitTimestamp); ts != nil {
		if s, ok := ts.(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				g.commit = t
			}
		}
	}
	return g, nil
}

func (g *gapResolver) schema(ctx context.Context, entity string) (*objectSchema, error) {
	key := strings.ToLower(entity)
	g.mu.Lock()
	s := g.schemas[key]
	g.mu.Unlock()
	if s != nil {
		return s, nil
	}
	fields, _ := g.cdc.fieldsOf(entity)
	s, err := loadSchema(ctx, g.org, entity, fields)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.schemas[key] = s
	g.mu.Unlock()
	return s, nil
}

// resolve hands batch to emit with its gap events resolved, in order: one
// batch, or more when an overflow reads many records (a batch per query
// page, so memory does not grow with the overflow). Messages that are not gap
// events pass unchanged. An error leaves the batch unacknowledged: the caller
// reads it again.
func (g *gapResolver) resolve(ctx context.Context, batch service.MessageBatch, emit func(service.MessageBatch) error) error {
	// Read the named records of every entity at once: one collections
	// request per 2,000 ids of an entity.
	wanted := map[string][]string{}
	seen := map[string]bool{}
	for _, m := range batch {
		if !isGap(m) {
			continue
		}
		ev, err := gapOf(m)
		if err != nil {
			return err
		}
		if ev.changeType == gapCreate || ev.changeType == gapUpdate || ev.changeType == gapUndelete {
			for _, id := range ev.ids {
				if !seen[id] {
					seen[id] = true
					wanted[ev.entity] = append(wanted[ev.entity], id)
				}
			}
		}
	}
	current := map[string]map[string]any{} // id → values; absent from the map: not a live record
	for entity, ids := range wanted {
		s, err := g.schema(ctx, entity)
		if err != nil {
			return fmt.Errorf("resolving gap events of %s: %w", entity, err)
		}
		err = g.org.Retrieve(ctx, s.name, ids, s.retrieveFields(), func(id string, rec json.RawMessage) error {
			if rec == nil {
				return nil
			}
			_, values, err := recordOf(rec)
			if err != nil {
				return err
			}
			current[id] = values
			return nil
		})
		if err != nil {
			return fmt.Errorf("resolving gap events of %s: %w", entity, err)
		}
	}

	var out service.MessageBatch
	for _, m := range batch {
		if !isGap(m) {
			out = append(out, m)
			continue
		}
		ev, _ := gapOf(m)
		if g.fetches != nil {
			g.fetches.Incr(1, ev.changeType)
		}
		s, err := g.schema(ctx, ev.entity)
		if err != nil {
			return fmt.Errorf("resolving a %s event of %s: %w", ev.changeType, ev.entity, err)
		}
		if ev.changeType == gapOverflow {
			if len(out) > 0 {
				if err := emit(out); err != nil {
					return err
				}
				out = nil
			}
			if err := g.overflow(ctx, s, m, ev, emit); err != nil {
				return err
			}
			continue
		}
		for _, id := range ev.ids {
			values, live := current[id]
			changeType := ev.changeType
			if changeType == gapDelete || !live {
				changeType, values = gapDelete, nil
			}
			rm, err := g.resolved(s, m, changeType, id, values)
			if err != nil {
				return err
			}
			out = append(out, rm)
		}
	}
	if len(out) > 0 {
		return emit(out)
	}
	return nil
}

// resolved is the message of one resolved record: the event's metadata,
// changeType, the record's body.
func (g *gapResolver) resolved(s *objectSchema, event *service.Message, changeType, id string, values map[string]any) (*service.Message, error) {
	fresh, err := s.recordMessage(g.body, changeType, id, values, 0)
	if err != nil {
		return nil, err
	}
	body, err := fresh.AsBytes()
	if err != nil {
		return nil, err
	}
	m := event.Copy()
	m.SetBytes(body)
	m.MetaSetMut(metaChangeType, changeType)
	m.MetaSetMut(metaRecordIDs, []any{id})
	m.MetaSetMut(metaGapResolved, true)
	return m, nil
}

// overflow re-reads the entity's records changed since the event, then the
// deletions since, each query page as one batch.
func (g *gapResolver) overflow(ctx context.Context, s *objectSchema, event *service.Message, ev gapEvent, emit func(service.MessageBatch) error) error {
	commit := ev.commit
	if commit.IsZero() {
		commit = time.Now()
	}
	since := commit.Add(-overflowMargin).UTC().Format("2006-01-02T15:04:05Z")
	var page service.MessageBatch
	var ferr error
	collect := func(changeType string, withValues bool) func(json.RawMessage) error {
		return func(rec json.RawMessage) error {
			id, values, err := recordOf(rec)
			if err != nil {
				return err
			}
			if !withValues {
				values = nil
			}
			m, err := g.resolved(s, event, changeType, id, values)
			if err != nil {
				return err
			}
			page = append(page, m)
			return nil
		}
	}
	for _, q := range []struct {
		soql       string
		all        bool
		changeType string
		values     bool
	}{
		{"SELECT " + s.selectList() + " FROM " + s.name + " WHERE SystemModstamp >= " + since + " ORDER BY Id", false, gapOverflow, true},
		{"SELECT Id FROM " + s.name + " WHERE IsDeleted = true AND SystemModstamp >= " + since + " ORDER BY Id", true, gapDelete, false},
	} {
		fn := collect(q.changeType, q.values)
		p, err := g.org.Query(ctx, q.soql, q.all, fn)
		for {
			if err != nil {
				return fmt.Errorf("resolving a GAP_OVERFLOW event of %s: %w", s.name, err)
			}
			if len(page) > 0 {
				if ferr = emit(page); ferr != nil {
					return ferr
				}
				page = nil
			}
			if p.NextRecordsURL == "" {
				break
			}
			p, err = g.org.QueryMore(ctx, p.NextRecordsURL, fn)
		}
	}
	return nil
}
