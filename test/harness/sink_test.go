package harness

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSinkRejectsAndRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	calls := 0
	sink, err := StartSink(path, func(batch []Record) bool { calls++; return calls == 1 })
	require.NoError(t, err)
	defer sink.Close()

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, line := range []string{`{"channel":"/u/A","replay_id":1}`, `{"channel":"/u/A","replay_id":2}`} {
		part, err := mw.CreatePart(nil)
		require.NoError(t, err)
		_, _ = part.Write([]byte(line))
	}
	require.NoError(t, mw.Close())
	post := func() int {
		resp, err := http.Post(sink.URL, mw.FormDataContentType(), bytes.NewReader(body.Bytes()))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusInternalServerError, post(), "the first batch is rejected")
	assert.Equal(t, http.StatusOK, post(), "the retry passes")
	resp, err := http.Post(sink.URL, "application/json", strings.NewReader(`{"channel":"/u/A","replay_id":3}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a single message")

	require.NoError(t, sink.Close())
	require.NoError(t, sink.Close(), "Close is idempotent")
	got, err := ReadRecords(path)
	require.NoError(t, err)
	assert.Equal(t, recs("/u/A", 1, 2, 3), got, "accepted records, in arrival order")
	assert.Equal(t, [][]Record{recs("/u/A", 1, 2)}, sink.Rejected())
}
