package sfemu

import "github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/jsonw"

// obj is jsonw.Obj with the chaining short names sfemu's encoders use.
type obj struct{ jsonw.Obj }

func newObj(b []byte) *obj { return &obj{jsonw.Make(b)} }

func (o *obj) str(k, v string) *obj { o.Str(k, v); return o }

// strIf adds the key only when v is not empty.
func (o *obj) strIf(k, v string) *obj {
	if v != "" {
		o.Str(k, v)
	}
	return o
}

func (o *obj) raw(k string, v []byte) *obj { o.Raw(k, v); return o }
func (o *obj) bool(k string, v bool) *obj  { o.Bool(k, v); return o }
func (o *obj) int(k string, v int64) *obj  { o.Int(k, v); return o }
func (o *obj) done() []byte                { return o.Done() }

// appendJSONString appends s as a JSON string (jsonw.AppendString).
func appendJSONString(b []byte, s string) []byte { return jsonw.AppendString(b, s) }
