package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

func newTestSink(t *testing.T) (*sink, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "records.jsonl")
	s, err := newSink(path)
	require.NoError(t, err)
	url, err := s.start()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s, url, path
}

func post(t *testing.T, url, run, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	if run != "" {
		req.Header.Set(runHeader, run)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestSinkRecordsAcceptedBatchesWithTheirRun(t *testing.T) {
	s, url, path := newTestSink(t)
	assert.Equal(t, http.StatusOK, post(t, url, "1",
		`{"channel":"/event/A__e","replay_id":10}`+"\n"+`{"channel":"/u/B","replay_id":7}`))
	assert.Equal(t, http.StatusOK, post(t, url, "2", `{"channel":"/event/A__e","replay_id":10}`+"\n"))

	ds, bad, rejected, _ := s.snapshot()
	assert.Empty(t, bad)
	assert.Zero(t, rejected)
	require.Len(t, ds, 3)
	assert.Equal(t, []int{1, 1, 2}, []int{ds[0].Run, ds[1].Run, ds[2].Run})
	assert.True(t, s.has("/u/B", 7))
	assert.False(t, s.has("/u/B", 8))

	// The file holds the same, readable as harness records.
	recs, err := harness.ReadRecords(path)
	require.NoError(t, err)
	assert.Equal(t, []harness.Record{rec("/event/A__e", 10), rec("/u/B", 7), rec("/event/A__e", 10)}, recs)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"run":2`)
}

func TestSinkFailingRefusesAndRecordsNothing(t *testing.T) {
	s, url, _ := newTestSink(t)
	s.setFailing(true)
	assert.True(t, s.isFailing())
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url, "1", `{"channel":"/u/B","replay_id":7}`))
	s.setFailing(false)
	assert.Equal(t, http.StatusOK, post(t, url, "1", `{"channel":"/u/B","replay_id":8}`))
	ds, _, rejected, _ := s.snapshot()
	assert.Equal(t, 1, rejected)
	require.Len(t, ds, 1)
	assert.Equal(t, int64(8), ds[0].ReplayID)
}

func TestSinkRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name, run, body string
	}{
		{"no run header", "", `{"channel":"/u/B","replay_id":7}`},
		{"run zero", "0", `{"channel":"/u/B","replay_id":7}`},
		{"not JSON", "1", `{"channel":"/u/B","replay_id":7}` + "\nnot json"},
		{"no channel", "1", `{"replay_id":7}`},
		{"no replay id", "1", `{"channel":"/u/B"}`},
		{"empty body", "1", "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url, _ := newTestSink(t)
			assert.Equal(t, http.StatusBadRequest, post(t, url, tt.run, tt.body))
			ds, bad, _, _ := s.snapshot()
			assert.Empty(t, ds, "nothing of a bad request is recorded")
			assert.Len(t, bad, 1)
		})
	}
}

func TestSinkIgnoresACutRequest(t *testing.T) {
	// A request whose body cannot be read completely (its sender was killed)
	// is no delivery.
	s, err := newSink(filepath.Join(t.TempDir(), "records.jsonl"))
	require.NoError(t, err)
	defer s.Close()
	req := httptest.NewRequest(http.MethodPost, "/records", errReader{})
	req.Header.Set(runHeader, "1")
	s.ServeHTTP(httptest.NewRecorder(), req)
	assert.Zero(t, s.count())
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }

func TestSplitRuns(t *testing.T) {
	at := time.Now()
	ds := []delivery{
		{Run: 1, Channel: "/u/A", ReplayID: 1, At: at},
		{Run: 1, Channel: "/u/A", ReplayID: 2, At: at},
		{Run: 3, Channel: "/u/A", ReplayID: 2, At: at},
		{Run: 3, Channel: "/u/A", ReplayID: 3, At: at},
	}
	runs := splitRuns(ds)
	require.Len(t, runs, 3)
	assert.Equal(t, []harness.Record{rec("/u/A", 1), rec("/u/A", 2)}, runs[0])
	assert.Empty(t, runs[1], "run 2 delivered nothing")
	assert.Equal(t, []harness.Record{rec("/u/A", 2), rec("/u/A", 3)}, runs[2])
	assert.Empty(t, splitRuns(nil))
}

func rec(channel string, id int64) harness.Record {
	return harness.Record{Channel: channel, ReplayID: id}
}

func TestSinkRefusesAtRandomOnlyInRefusingRuns(t *testing.T) {
	s, url, _ := newTestSink(t)
	s.setRefusing(2, 7)
	const requests = 200 // at refuseShare 5%, P(no refusal) = 0.95^200 < 1e-4, and the draw is seeded
	refused := map[string]int{}
	for i := range requests {
		for _, run := range []string{"1", "2"} {
			body := `{"channel":"/u/B","replay_id":` + strconv.Itoa(i+1) + `}`
			if post(t, url, run, body) == http.StatusServiceUnavailable {
				refused[run]++
			}
		}
	}
	_, _, rejected, refusedBy := s.snapshot()
	assert.Zero(t, refused["1"], "a run that is not refusing gets every request taken")
	assert.Positive(t, refused["2"], "a refusing run gets some requests refused")
	assert.Less(t, refused["2"], requests/2, "only a share of them")
	assert.Equal(t, refused["2"], rejected)
	assert.Equal(t, map[int]int{2: refused["2"]}, refusedBy)
}

func TestSinkHasAll(t *testing.T) {
	s, url, _ := newTestSink(t)
	assert.Equal(t, http.StatusOK, post(t, url, "1", `{"channel":"/u/B","replay_id":7}`+"\n"+`{"channel":"/u/B","replay_id":9}`))
	assert.True(t, s.hasAll(harness.Published{"/u/B": {7, 9}}))
	assert.False(t, s.hasAll(harness.Published{"/u/B": {7, 8, 9}}), "8 never arrived")
	assert.False(t, s.hasAll(harness.Published{"/u/C": {1}}))
}
