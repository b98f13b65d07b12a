package orgapi

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
	"github.com/salesforce-streaming/salesforce_streaming/internal/stream"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// calls counts the requests a client sends, by kind.
type calls struct {
	mu     sync.Mutex
	n      map[string]int
	waits  []time.Duration
	errors []string
}

func (c *calls) hooks() Hooks {
	return Hooks{
		Call: func(kind string) { c.mu.Lock(); c.n[kind]++; c.mu.Unlock() },
		Retry: func(kind string, wait time.Duration, err error) {
			c.mu.Lock()
			c.waits = append(c.waits, wait)
			c.errors = append(c.errors, err.Error())
			c.mu.Unlock()
		},
	}
}

func (c *calls) of(kind string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.n[kind] }

// startOrg serves sfemu with accounts Accounts and returns a client on it
// authenticated by client_credentials, and the emulator.
func startOrg(t *testing.T, accounts int, tweak func(*sfemu.Config)) (*Client, *sfemu.Server, *calls) {
	t.Helper()
	cfg := sfemu.DefaultConfig()
	if accounts > 0 {
		cfg.Records = []sfemu.ObjectCount{{Object: "Account", Count: accounts}}
	}
	if tweak != nil {
		tweak(&cfg)
	}
	emu := sfemu.New(cfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	src, err := sfauth.NewSource(sfauth.Config{OrgURL: srv.URL, GrantType: sfauth.GrantClientCredentials,
		ClientID: sfemu.DefaultClientID, ClientSecret: sfemu.DefaultClientSecret, HTTPClient: srv.Client()})
	require.NoError(t, err)
	seen := &calls{n: map[string]int{}}
	c := New(src, srv.Client(), "64.0", nil, WithHooks(seen.hooks()),
		WithBackoff(stream.BackoffConfig{Initial: time.Millisecond, Max: 5 * time.Millisecond, Long: 5 * time.Millisecond}))
	return c, emu, seen
}

func recordID(t *testing.T, rec json.RawMessage) string {
	var r struct {
		ID string `json:"Id"`
	}
	require.NoError(t, json.Unmarshal(rec, &r))
	return r.ID
}

// deleteSome deletes n Accounts of the org and answers their ids.
func deleteSome(t *testing.T, emu *sfemu.Server, n int) []string {
	obj, ok := emu.Org().Object("Account")
	require.True(t, ok)
	var ops []org.Op
	for _, r := range emu.Org().Records(obj)[:n] {
		ops = append(ops, org.Op{Kind: org.OpDelete, ID: r.ID()})
	}
	results, _ := emu.Org().Apply("test", true, ops...)
	ids := make([]string, 0, n)
	for _, r := range results {
		require.True(t, r.Success)
		ids = append(ids, r.ID)
	}
	return ids
}

func TestQueryPagesEveryRecordOnce(t *testing.T) {
	c, emu, seen := startOrg(t, 4500, nil)
	var ids []string
	total, err := c.QueryEach(t.Context(), "SELECT Id, Name FROM Account ORDER BY Id", false, func(rec json.RawMessage) error {
		ids = append(ids, recordID(t, rec))
		return nil
	})
	require.NoError(t, err)
	assert.EqualValues(t, 4500, total)
	assert.Len(t, ids, 4500)
	assert.Len(t, slices.Compact(slices.Clone(ids)), 4500, "no record twice")
	assert.Equal(t, 1, seen.of(KindQuery))
	assert.Equal(t, 2, seen.of(KindQueryMore), "pages of 2,000: two more after the first")

	n, err := c.Count(t.Context(), "Account", "", false)
	require.NoError(t, err)
	assert.EqualValues(t, 4500, n)

	deleted := deleteSome(t, emu, 3)
	n, err = c.Count(t.Context(), "Account", "", false)
	require.NoError(t, err)
	assert.EqualValues(t, 4497, n, "query skips deleted records")
	var gone []string
	_, err = c.QueryEach(t.Context(), "SELECT Id FROM Account WHERE IsDeleted = true", true, func(rec json.RawMessage) error {
		gone = append(gone, recordID(t, rec))
		return nil
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, deleted, gone, "queryAll sees the recycle bin")
}

func TestQueryResumesFromALocator(t *testing.T) {
	c, _, _ := startOrg(t, 4100, nil)
	first, err := c.Query(t.Context(), "SELECT Id FROM Account ORDER BY Id", false, func(json.RawMessage) error { return nil })
	require.NoError(t, err)
	require.False(t, first.Done)
	require.NotEmpty(t, first.NextRecordsURL)
	var rest int
	page := first
	for !page.Done {
		page, err = c.QueryMore(t.Context(), page.NextRecordsURL, func(json.RawMessage) error { rest++; return nil })
		require.NoError(t, err)
	}
	assert.Equal(t, 2100, rest, "the locator resumes after the first page")

	_, err = c.QueryMore(t.Context(), "https://elsewhere.example/x", func(json.RawMessage) error { return nil })
	require.Error(t, err, "a locator is a path on the org, never another host")
}

func TestQueryErrorNamesTheField(t *testing.T) {
	c, _, seen := startOrg(t, 10, nil)
	_, err := c.Query(t.Context(), "SELECT Nope__c FROM Account", false, func(json.RawMessage) error { return nil })
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 400, se.Status)
	assert.Equal(t, "INVALID_FIELD", se.Code)
	assert.Contains(t, err.Error(), "Nope__c")
	assert.Empty(t, seen.waits, "a bad query is not retried")
}

func TestDescribeListsFields(t *testing.T) {
	c, _, seen := startOrg(t, 0, nil)
	fields, err := c.Describe(t.Context(), "Account")
	require.NoError(t, err)
	byName := map[string]Field{}
	for _, f := range fields {
		byName[f.Name] = f
	}
	for _, name := range []string{"Id", "Name", "Industry", "BillingCity", "IsDeleted", "SystemModstamp"} {
		assert.Contains(t, byName, name)
	}
	assert.Equal(t, "boolean", byName["IsDeleted"].Type)
	assert.Equal(t, 1, seen.of(KindDescribe))
	_, err = c.Describe(t.Context(), "Nope__c")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "describing Nope__c")
}

func TestRetrieveBatchesAndMarksMissing(t *testing.T) {
	c, emu, seen := startOrg(t, 2600, nil)
	obj, _ := emu.Org().Object("Account")
	var ids []string
	for _, r := range emu.Org().Records(obj) {
		ids = append(ids, r.ID())
	}
	deleted := deleteSome(t, emu, 2)
	ids = append(ids, "001000000000000AAA") // never was
	got := map[string]string{}
	var missing []string
	err := c.Retrieve(t.Context(), "Account", ids, []string{"Id", "Name", "Industry"}, func(id string, rec json.RawMessage) error {
		if rec == nil {
			missing = append(missing, id)
			return nil
		}
		var r map[string]any
		require.NoError(t, json.Unmarshal(rec, &r))
		assert.Contains(t, r, "Industry")
		got[id] = r["Id"].(string)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, seen.of(KindRetrieve), "2,601 ids take two requests")
	assert.ElementsMatch(t, append(deleted, "001000000000000AAA"), missing)
	assert.Len(t, got, 2598)
	for id, back := range got {
		assert.Equal(t, id, back)
	}
	require.Error(t, c.Retrieve(t.Context(), "Account", ids[:1], nil, func(string, json.RawMessage) error { return nil }))
}

func TestBulkQueryPagesByLocator(t *testing.T) {
	c, emu, seen := startOrg(t, 4500, nil)
	deleteSome(t, emu, 5)
	job, err := c.CreateQueryJob(t.Context(), "SELECT Id, Name, Industry FROM Account", false)
	require.NoError(t, err)
	require.NotEmpty(t, job.ID)
	job, err = c.WaitQueryJob(t.Context(), job.ID, time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, JobComplete, job.State)
	assert.EqualValues(t, 4495, job.NumberRecordsProcessed)
	ids := map[string]bool{}
	locator, pages := "", 0
	for {
		next, n, err := c.QueryResults(t.Context(), job.ID, locator, 1000, func(header, row []string) error {
			require.Equal(t, []string{"Id", "Name", "Industry"}, header)
			ids[row[0]] = true
			return nil
		})
		require.NoError(t, err)
		pages++
		assert.LessOrEqual(t, n, int64(1000))
		if next == "" {
			break
		}
		locator = next
	}
	assert.Len(t, ids, 4495)
	assert.Equal(t, 5, pages)
	assert.Equal(t, 5, seen.of(KindBulkResults))
	require.NoError(t, c.DeleteQueryJob(t.Context(), job.ID))
	_, err = c.QueryJob(t.Context(), job.ID)
	require.Error(t, err, "a deleted job is gone")
}

func TestRequestLimitIsWaitedOut(t *testing.T) {
	c, _, seen := startOrg(t, 10, func(cfg *sfemu.Config) { cfg.DailyAPIRequestLimit = 2 })
	_, err := c.Count(t.Context(), "Account", "", false)
	require.NoError(t, err)
	_, err = c.Count(t.Context(), "Account", "", false)
	require.NoError(t, err)
	short, stop := contextWithTimeout(t.Context(), 200*time.Millisecond)
	defer stop()
	_, err = c.Count(short, "Account", "", false)
	var se *StatusError
	require.ErrorAs(t, err, &se, "the limit outlasts the caller: the last refusal is the error")
	assert.Equal(t, "REQUEST_LIMIT_EXCEEDED", se.Code)
	assert.NotEmpty(t, seen.waits, "the client waited before retrying")
	assert.Greater(t, seen.of(KindQuery), 3, "and retried")
}
