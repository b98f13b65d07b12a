package orgstream

import (
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

func (r *Router) commitMillis(tx *org.Transaction) int64 {
	if r.precise {
		return tx.Commit.UnixMilli()
	}
	return tx.Commit.Unix() * 1000
}

// changePayload is a change event's payload: the header, then the record's non-null fields (CREATE,
// UNDELETE), the changed fields (UPDATE) or nothing (DELETE and gap events).
func (r *Router) changePayload(tx *org.Transaction, ch org.Change, seq int, gap bool) []byte {
	t, origin := string(ch.Type), tx.Origin
	if gap {
		t, origin = "GAP_"+t, ""
	}
	var changed []string
	if ch.Type == org.Updated && !gap {
		for _, i := range ch.Changed {
			changed = append(changed, ch.Object.Fields[i].Name)
		}
	}
	o := jsonw.Make(nil)
	o.Raw("ChangeEventHeader", r.header(ch.Object.Name, []string{ch.ID}, t, origin, tx, seq, changed))
	if gap {
		return o.Done()
	}
	switch ch.Type {
	case org.Created, org.Undeleted:
		for i, f := range ch.Object.Fields {
			if v := ch.After[i]; v != "" && bodyField(f.Name) {
				appendValue(&o, f, v)
			}
		}
	case org.Updated:
		for _, i := range ch.Changed {
			appendValue(&o, ch.Object.Fields[i], ch.After[i])
		}
	}
	return o.Done()
}

// bodyField reports whether a field appears in a change event body: the id is in the header, and the deletion
// flag and system modstamp are not sent.
func bodyField(name string) bool {
	return name != "Id" && name != "IsDeleted" && name != "SystemModstamp"
}

// appendValue writes a field as events carry it: datetimes in UTC with a Z, numbers and booleans bare, null for
// a cleared value.
func appendValue(o *jsonw.Obj, f *org.Field, v string) {
	switch {
	case v == "":
		o.Raw(f.Name, []byte("null"))
	case f.Type.Numeric() || f.Type == org.TypeBoolean:
		o.Raw(f.Name, []byte(v))
	case f.Type == org.TypeDateTime:
		o.Str(f.Name, strings.TrimSuffix(v, "+0000")+"Z")
	default:
		o.Str(f.Name, v)
	}
}

// header is a ChangeEventHeader, keys in the order of the emulator's generated events.
func (r *Router) header(entity string, ids []string, t, origin string, tx *org.Transaction, seq int, changed []string) []byte {
	idsJSON := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			idsJSON = append(idsJSON, ',')
		}
		idsJSON = jsonw.AppendString(idsJSON, id)
	}
	changedJSON := []byte{'['}
	for i, f := range changed {
		if i > 0 {
			changedJSON = append(changedJSON, ',')
		}
		changedJSON = jsonw.AppendString(changedJSON, f)
	}
	o := jsonw.Make(nil)
	o.Str("entityName", entity)
	o.Raw("recordIds", append(idsJSON, ']'))
	o.Str("changeType", t)
	o.Str("changeOrigin", origin)
	o.Str("transactionKey", tx.Key)
	o.Int("sequenceNumber", int64(seq))
	o.Int("commitTimestamp", r.commitMillis(tx))
	o.Int("commitNumber", tx.Number)
	o.Str("commitUser", r.userID)
	o.Raw("changedFields", append(changedJSON, ']'))
	return o.Done()
}
