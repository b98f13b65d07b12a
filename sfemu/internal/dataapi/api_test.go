package dataapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

const base = "/services/data/v66.0/"

type fixture struct {
	t         *testing.T
	api       *API
	committed int
	bulkJobs  int
}

func newFixture(t *testing.T, accounts int) *fixture {
	t.Helper()
	o, err := org.New(org.Config{OrgID: "00D5e000000SfEmUAQ", UserID: "0055e000001SfEmUAA", Seed: 1,
		Now: func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	require.NoError(t, o.Populate("Account", accounts))
	f := &fixture{t: t}
	f.api = New(o, Hooks{Committed: func() { f.committed++ }, BulkQueryJob: func() { f.bulkJobs++ }})
	return f
}

func (f *fixture) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(method, base+target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	resource, _, _ := strings.Cut(target, "?")
	if !f.api.Serve(w, r, "66.0", strings.TrimSuffix(resource, "/")) {
		w.WriteHeader(http.StatusTeapot) // not a data resource
	}
	return w
}

func TestServeRoutesOnlyDataResources(t *testing.T) {
	f := newFixture(t, 0)
	for _, target := range []string{"limits", "sobjects/Order__e", "sobjects/StreamingChannel/0M6x/push", "tooling/query"} {
		assert.Equal(t, http.StatusTeapot, f.do(http.MethodGet, target, "").Code, target)
	}
	assert.Equal(t, http.StatusOK, f.do(http.MethodGet, "sobjects/account/describe", "").Code, "object names are case-insensitive")
}

func TestDescribeKeysAreAlphabetical(t *testing.T) {
	f := newFixture(t, 0)
	w := f.do(http.MethodGet, "sobjects/Account/describe", "")
	require.Equal(t, http.StatusOK, w.Code)
	keys := topLevelKeys(t, w.Body.Bytes())
	assert.IsNonDecreasing(t, keys, "Salesforce sends describe keys in alphabetical order")
	assert.Subset(t, keys, []string{"actionOverrides", "childRelationships", "createable", "fields", "keyPrefix", "label", "name", "queryable", "urls"})
	var d struct {
		Fields []map[string]any `json:"fields"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &d))
	id := d.Fields[0]
	assert.Equal(t, "Id", id["name"])
	assert.Equal(t, "id", id["type"])
	assert.Equal(t, false, id["nillable"])
	assert.Equal(t, true, id["idLookup"])
	assert.Len(t, id, 57, "the keys of a real field entry (Account.Id, API 48)")
}

func TestQueryBatchSizeAndLocators(t *testing.T) {
	f := newFixture(t, 450)
	w := f.do(http.MethodGet, "query?q=SELECT+Id+FROM+Account", "", "Sforce-Query-Options", "batchSize=200")
	var page struct {
		TotalSize int              `json:"totalSize"`
		Done      bool             `json:"done"`
		Next      string           `json:"nextRecordsUrl"`
		Records   []map[string]any `json:"records"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	assert.Equal(t, 450, page.TotalSize)
	assert.Len(t, page.Records, 200)
	require.True(t, strings.HasSuffix(page.Next, "-200"), page.Next)
	// A locator page can be fetched again (the cursor is kept), and an offset past the end is refused.
	next := strings.TrimPrefix(page.Next, "/services/data/v66.0/")
	for range 2 {
		w = f.do(http.MethodGet, next, "")
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		assert.Len(t, page.Records, 200)
	}
	bad := strings.TrimSuffix(next, "-200") + "-9999"
	assert.Contains(t, f.do(http.MethodGet, bad, "").Body.String(), "INVALID_QUERY_LOCATOR")
}

func TestBatchSize(t *testing.T) {
	for header, want := range map[string]int{"": 2000, "batchSize=1000": 1000, "batchSize=50": 200, "batchSize=5000": 2000, "batchSize=x": 2000, "foo=1, batchSize=300": 300} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Sforce-Query-Options", header)
		assert.Equal(t, want, batchSize(r), header)
	}
}

func TestWritesCallCommittedAndBulkJobsCount(t *testing.T) {
	f := newFixture(t, 3)
	assert.Equal(t, http.StatusCreated, f.do(http.MethodPost, "sobjects/Account", `{"Name":"a"}`).Code)
	assert.Equal(t, http.StatusBadRequest, f.do(http.MethodPost, "sobjects/Account", `{}`).Code)
	assert.Equal(t, 1, f.committed, "a failed create commits nothing")
	w := f.do(http.MethodPost, "jobs/query", `{"operation":"query","query":"SELECT Id FROM Account","columnDelimiter":"PIPE","lineEnding":"CRLF"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, 1, f.bulkJobs)
	var job struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &job))
	f.do(http.MethodGet, "jobs/query/"+job.ID, "")
	w = f.do(http.MethodGet, "jobs/query/"+job.ID+"/results?maxRecords=0", "")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	w = f.do(http.MethodGet, "jobs/query/"+job.ID+"/results?maxRecords=2", "")
	assert.Equal(t, "\"Id\"\r\n", w.Body.String()[:6])
	assert.Equal(t, "2", w.Header().Get("Sforce-NumberOfRecords"))
	loc := w.Header().Get("Sforce-Locator")
	require.NotEqual(t, "null", loc)
	w = f.do(http.MethodGet, "jobs/query/"+job.ID+"/results?maxRecords=2&locator="+loc, "")
	assert.Equal(t, "null", w.Header().Get("Sforce-Locator"))
	assert.Equal(t, "2", w.Header().Get("Sforce-NumberOfRecords"), "4 accounts: 3 populated and 1 created")
	assert.Contains(t, f.do(http.MethodGet, "jobs/query/"+job.ID+"/results?locator=bogus", "").Body.String(), "INVALID_LOCATOR")
	assert.Contains(t, f.do(http.MethodPost, "jobs/query", `{"operation":"query","query":"SELECT Id FROM Account","columnDelimiter":"COLON"}`).Body.String(), "INVALIDJOB")
	assert.Equal(t, 1, f.bulkJobs, "a refused job does not count")
}

// topLevelKeys lists an object's keys in the order they are written.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var keys []string
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' || v == '[' {
				depth++
				expectKey = v == '{' && depth == 1
			} else {
				depth--
				expectKey = depth == 1
			}
			continue
		case string:
			if depth == 1 && expectKey {
				keys = append(keys, v)
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
	return keys
}

func TestCursorsAreBounded(t *testing.T) {
	f := newFixture(t, 0)
	res := &org.Result{Rows: make([][]string, maxCursorRows/2+1)}
	first := f.api.keep(&cursor{res: res, batch: 2000})
	second := f.api.keep(&cursor{res: res, batch: 2000})
	f.api.mu.Lock()
	defer f.api.mu.Unlock()
	assert.NotContains(t, f.api.cursors, first, "the oldest locator goes when the rows exceed the bound")
	assert.Contains(t, f.api.cursors, second)
	assert.Equal(t, maxCursorRows/2+1, f.api.cursorRows)
}

func TestQueryAllPagesUnderQuery(t *testing.T) {
	f := newFixture(t, 250)
	w := f.do(http.MethodGet, "queryAll?q=SELECT+Id+FROM+Account", "", "Sforce-Query-Options", "batchSize=200")
	var page struct {
		Next string `json:"nextRecordsUrl"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	assert.Regexp(t, `^/services/data/v66\.0/query/01g[0-9A-Za-z]{15}-200$`, page.Next)
}
