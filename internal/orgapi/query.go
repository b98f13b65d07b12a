package orgapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Page is what a query page says besides its records.
type Page struct {
	TotalSize int64
	Done      bool
	// NextRecordsURL is the next page's path (/services/data/vXX.X/query/01g…-2000),
	// "" on the last page. It is a query locator: it can resume the query later.
	NextRecordsURL string
}

// RecordFunc receives one record of a page as the org wrote it (JSON, with
// its attributes object). The bytes are valid only during the call.
type RecordFunc func(rec json.RawMessage) error

// Query runs soql (queryAll when all: deleted records too) and hands the
// first page's records to fn one at a time, as they are read: a page is never
// held whole. Follow Page.NextRecordsURL with QueryMore.
func (c *Client) Query(ctx context.Context, soql string, all bool, fn RecordFunc) (Page, error) {
	resource := "/query"
	if all {
		resource = "/queryAll"
	}
	return c.queryPage(ctx, KindQuery, c.dataPath(resource+"?q="+url.QueryEscape(soql)), fn)
}

// QueryMore reads the page at next (a NextRecordsURL) as Query reads the first.
func (c *Client) QueryMore(ctx context.Context, next string, fn RecordFunc) (Page, error) {
	if !strings.HasPrefix(next, "/services/data/") {
		return Page{}, fmt.Errorf("reading the next query page: %q is not a query locator path", next)
	}
	return c.queryPage(ctx, KindQueryMore, next, fn)
}

// QueryEach runs soql and follows every page to the end.
func (c *Client) QueryEach(ctx context.Context, soql string, all bool, fn RecordFunc) (int64, error) {
	page, err := c.Query(ctx, soql, all, fn)
	for err == nil && page.NextRecordsURL != "" {
		page, err = c.QueryMore(ctx, page.NextRecordsURL, fn)
	}
	return page.TotalSize, err
}

// Count answers SELECT COUNT() FROM object [WHERE where]: the records the
// query matches, from totalSize.
func (c *Client) Count(ctx context.Context, object, where string, all bool) (int64, error) {
	soql := "SELECT COUNT() FROM " + object
	if where != "" {
		soql += " WHERE " + where
	}
	page, err := c.Query(ctx, soql, all, func(json.RawMessage) error { return nil })
	if err != nil {
		return 0, err
	}
	return page.TotalSize, nil
}

func (c *Client) queryPage(ctx context.Context, kind, path string, fn RecordFunc) (Page, error) {
	resp, err := c.send(ctx, request{kind: kind, method: http.MethodGet, path: path, retry: true, stream: true})
	if err != nil {
		return Page{}, fmt.Errorf("query: %w", err)
	}
	defer resp.Body.Close()
	page, err := decodePage(json.NewDecoder(resp.Body), fn)
	if err != nil {
		return Page{}, fmt.Errorf("query %s: %w", pathOnly(path), err)
	}
	return page, nil
}

// decodePage reads {"totalSize","done","nextRecordsUrl","records":[…]} in
// any key order, streaming the records to fn.
func decodePage(dec *json.Decoder, fn RecordFunc) (Page, error) {
	var page Page
	if err := expectDelim(dec, '{'); err != nil {
		return page, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return page, fmt.Errorf("reading the answer: %w", err)
		}
		switch key {
		case "totalSize":
			err = dec.Decode(&page.TotalSize)
		case "done":
			err = dec.Decode(&page.Done)
		case "nextRecordsUrl":
			var next *string
			if err = dec.Decode(&next); err == nil && next != nil {
				page.NextRecordsURL = *next
			}
		case "records":
			err = eachElement(dec, fn)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return page, fmt.Errorf("reading the answer's %v: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return page, err
	}
	if page.Done {
		page.NextRecordsURL = ""
	} else if page.NextRecordsURL == "" {
		return page, errors.New("the page is not the last and names no next page")
	}
	return page, nil
}

// eachElement streams the elements of a JSON array (or nothing for null) to fn.
func eachElement(dec *json.Decoder, fn RecordFunc) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("expected an array, found %v", tok)
	}
	var raw json.RawMessage
	for dec.More() {
		raw = raw[:0]
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := fn(raw); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the answer ends early, expected %q", want)
		}
		return fmt.Errorf("reading the answer: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("the answer has %v where %q was expected", tok, want)
	}
	return nil
}
