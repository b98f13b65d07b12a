package pubsub

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// Change events carry changedFields, nulledFields and diffFields as bitmaps over the positions of the fields in
// the event's Avro schema, not as names
// (https://developer.salesforce.com/docs/platform/pub-sub-api/guide/event-deserialization-considerations.html):
// the first element, "0x650004E0", is a hex bitmap of top-level fields, bit 0 being the least significant bit of
// the last hex digit; each further element, "4-0x10", is the bitmap of the fields nested in the compound field
// at top-level position 4 (BillingAddress), named "Parent.Child" as CometD names them.

// decodeBitmapFields turns one bitmap array into field names, in order of position (top level first, then each
// compound field's components).
func decodeBitmapFields(schema *avro.RecordSchema, bitmaps []string) ([]string, error) {
	var names []string
	for _, bm := range bitmaps {
		parent, hexBits, nested := strings.Cut(bm, "-")
		if !nested {
			positions, err := bitPositions(bm)
			if err != nil {
				return nil, err
			}
			for _, p := range positions {
				f, err := fieldAt(schema, p, bm)
				if err != nil {
					return nil, err
				}
				names = append(names, f.Name())
			}
			continue
		}
		pos, err := strconv.Atoi(parent)
		if err != nil || pos < 0 {
			return nil, fmt.Errorf("bitmap %q: parent position %q is not a number", bm, parent)
		}
		pf, err := fieldAt(schema, pos, bm)
		if err != nil {
			return nil, err
		}
		inner := recordOf(pf.Type())
		if inner == nil {
			return nil, fmt.Errorf("bitmap %q: field %s at position %d is not a compound field", bm, pf.Name(), pos)
		}
		positions, err := bitPositions(hexBits)
		if err != nil {
			return nil, err
		}
		for _, p := range positions {
			f, err := fieldAt(inner, p, bm)
			if err != nil {
				return nil, err
			}
			names = append(names, pf.Name()+"."+f.Name())
		}
	}
	return names, nil
}

// bitPositions lists the set bits of a "0x..." hex bitmap, lowest first.
func bitPositions(hexBits string) ([]int, error) {
	digits, ok := strings.CutPrefix(hexBits, "0x")
	if !ok {
		digits, ok = strings.CutPrefix(hexBits, "0X")
	}
	if !ok || digits == "" {
		return nil, fmt.Errorf("bitmap %q is not 0x followed by hex digits", hexBits)
	}
	var out []int
	for i := len(digits) - 1; i >= 0; i-- {
		v, err := strconv.ParseUint(digits[i:i+1], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("bitmap %q: %q is not a hex digit", hexBits, digits[i])
		}
		for b := range 4 {
			if v&(1<<b) != 0 {
				out = append(out, (len(digits)-1-i)*4+b)
			}
		}
	}
	return out, nil
}

func fieldAt(schema *avro.RecordSchema, pos int, bitmap string) (*avro.Field, error) {
	fields := schema.Fields()
	if pos >= len(fields) {
		return nil, fmt.Errorf("bitmap %q names position %d but %s has %d fields", bitmap, pos, schema.Name(), len(fields))
	}
	return fields[pos], nil
}

// recordOf is the record schema of t, or of the record branch of a nullable union; nil otherwise.
func recordOf(t avro.Schema) *avro.RecordSchema {
	switch s := t.(type) {
	case *avro.RecordSchema:
		return s
	case *avro.RefSchema:
		return recordOf(s.Schema())
	case *avro.UnionSchema:
		for _, branch := range s.Types() {
			if r := recordOf(branch); r != nil {
				return r
			}
		}
	}
	return nil
}
