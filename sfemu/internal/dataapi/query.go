package dataapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// cursor is a query result being paged through nextRecordsUrl.
type cursor struct {
	res   *org.Result
	batch int
}

// query is GET /query?q= and /queryAll?q=.
func (a *API) query(w http.ResponseWriter, r *http.Request, version string, all bool) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
		return
	}
	res, err := a.org.Query(q, all)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	a.writePage(w, version, &cursor{res: res, batch: batchSize(r)}, "", 0)
}

// batchSize reads Sforce-Query-Options: batchSize=N (200 to 2,000; the default and maximum 2,000).
func batchSize(r *http.Request) int {
	for _, opt := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if strings.EqualFold(k, "batchSize") {
			if n, err := strconv.Atoi(v); err == nil {
				return min(max(n, minBatchSize), defaultBatchSize)
			}
		}
	}
	return defaultBatchSize
}

// queryMore is GET /query/{locator}-{offset}: the page starting at offset.
func (a *API) queryMore(w http.ResponseWriter, r *http.Request, version, locator string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	id, offText, _ := strings.Cut(locator, "-")
	offset, err := strconv.Atoi(offText)
	a.mu.Lock()
	c, ok := a.cursors[id]
	a.mu.Unlock()
	if !ok || err != nil || offset <= 0 || offset >= len(c.res.Rows) {
		writeError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	a.writePage(w, version, c, id, offset)
}

// writePage answers the rows from offset, at most one batch, with nextRecordsUrl when more follow.
func (a *API) writePage(w http.ResponseWriter, version string, c *cursor, locator string, offset int) {
	res := c.res
	b := []byte(`{"totalSize":`)
	b = strconv.AppendInt(b, int64(res.TotalSize), 10)
	end := min(offset+c.batch, len(res.Rows))
	if end < len(res.Rows) {
		if locator == "" {
			locator = a.keep(c)
		}
		// A queryAll's next page is also under /query/: the locator carries the result (as Salesforce's does).
		b = append(b, `,"done":false,"nextRecordsUrl":`...)
		b = appendString(b, "/services/data/v"+version+"/query/"+locator+"-"+strconv.Itoa(end))
	} else {
		b = append(b, `,"done":true`...)
	}
	b = append(b, `,"records":[`...)
	switch {
	case res.Aggregate:
		b = append(b, `{"attributes":{"type":"AggregateResult"},"expr0":`...)
		b = strconv.AppendInt(b, int64(res.AggregateValue), 10)
		b = append(b, '}')
	default:
		for i, row := range res.Rows[offset:end] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendRecord(b, version, res.Object, row, res.Columns)
		}
	}
	sfhttp.WriteRaw(w, http.StatusOK, append(b, "]}"...))
}

// keep stores a cursor under a new locator, an 18-character id with the query locator prefix 01g.
func (a *API) keep(c *cursor) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.serial++
	id := org.MakeID("01g", a.serial)
	a.cursors[id] = c
	a.order = append(a.order, id)
	a.cursorRows += len(c.res.Rows)
	// The oldest locators go first when there are too many, or when they hold too many rows between them.
	for len(a.order) > 1 && (len(a.order) > maxCursors || a.cursorRows > maxCursorRows) {
		a.cursorRows -= len(a.cursors[a.order[0]].res.Rows)
		delete(a.cursors, a.order[0])
		a.order = a.order[1:]
	}
	return id
}
