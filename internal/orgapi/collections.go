package orgapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// MaxRetrieveIDs is the most ids one sObject Collections retrieve takes.
const MaxRetrieveIDs = 2000

// FoundFunc receives one asked-for id and its record (JSON with attributes),
// or nil when the id is not a live record (deleted, or never was). The bytes
// are valid only during the call.
type FoundFunc func(id string, rec json.RawMessage) error

// Retrieve reads the records of ids with fields through sObject Collections
// (POST composite/sobjects/{object}), MaxRetrieveIDs ids a request, and hands
// each id with its record to fn in the order of ids. fields must not be
// empty: Salesforce requires them.
func (c *Client) Retrieve(ctx context.Context, object string, ids, fields []string, fn FoundFunc) error {
	if len(fields) == 0 {
		return fmt.Errorf("retrieving %s records: no field named", object)
	}
	for start := 0; start < len(ids); start += MaxRetrieveIDs {
		batch := ids[start:min(start+MaxRetrieveIDs, len(ids))]
		if err := c.retrieveBatch(ctx, object, batch, fields, fn); err != nil {
			return fmt.Errorf("retrieving %d %s records: %w", len(batch), object, err)
		}
	}
	return nil
}

func (c *Client) retrieveBatch(ctx context.Context, object string, ids, fields []string, fn FoundFunc) error {
	body, err := json.Marshal(struct {
		IDs    []string `json:"ids"`
		Fields []string `json:"fields"`
	}{ids, fields})
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, request{kind: KindRetrieve, method: http.MethodPost,
		path: c.dataPath("/composite/sobjects/" + url.PathEscape(object)), body: body, retry: true, stream: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	i := 0
	err = eachElement(dec, func(rec json.RawMessage) error {
		if i >= len(ids) {
			return errors.New("the answer has more records than ids asked for")
		}
		id := ids[i]
		i++
		if string(rec) == "null" {
			return fn(id, nil)
		}
		return fn(id, rec)
	})
	if err == nil && i != len(ids) {
		err = fmt.Errorf("the answer has %d records for %d ids", i, len(ids))
	}
	return err
}
