package orgapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxDescribe bounds a describe answer: Account's is about 300 kB, and an
// object with 800 custom fields stays well below this.
const maxDescribe = 32 << 20

// Field is one field of an object's describe.
type Field struct {
	Name string `json:"name"`
	// Type is Salesforce's field type: id, string, boolean, int, double,
	// currency, percent, date, datetime, reference, picklist, address, …
	Type     string `json:"type"`
	Nillable bool   `json:"nillable"`
}

// Compound reports whether the field is a compound one (address,
// location), which queries return as a nested object and Bulk API 2.0
// refuses: its parts are fields of their own.
func (f Field) Compound() bool { return f.Type == "address" || f.Type == "location" }

// Describe reads an object's fields in describe's order.
func (c *Client) Describe(ctx context.Context, object string) ([]Field, error) {
	resp, err := c.send(ctx, request{kind: KindDescribe, method: http.MethodGet,
		path: c.dataPath("/sobjects/" + url.PathEscape(object) + "/describe"), retry: true})
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", object, err)
	}
	defer resp.Body.Close()
	var d struct {
		Fields []Field `json:"fields"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDescribe)).Decode(&d); err != nil {
		return nil, fmt.Errorf("describing %s: reading the answer: %w", object, err)
	}
	if len(d.Fields) == 0 {
		return nil, fmt.Errorf("describing %s: the answer lists no field", object)
	}
	return d.Fields, nil
}
