package sfemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const benchEvents = 1000

// discardWriter is a ResponseWriter that only counts, so the benchmark measures the emulator alone.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(status int)      { d.status = status }
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// benchSession returns a server holding benchEvents CDC events and a client subscribed to them, plus the
// headers its requests carry.
func benchSession(tb testing.TB) (*Server, string, http.Header) {
	tb.Helper()
	s := New(Config{Clock: NewFakeClock(epoch), Seed: 7})
	tb.Cleanup(s.Close)
	_, _, err := s.PublishN("/data/AccountChangeEvent", benchEvents)
	require.NoError(tb, err)
	do := func(path, body string, h http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		require.Equal(tb, http.StatusOK, rec.Code, rec.Body.String())
		return rec
	}
	rec := do("/services/oauth2/token", "grant_type=client_credentials&client_id=sfemu-client-id&client_secret=sfemu-client-secret",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &tok))
	h := http.Header{"Authorization": {"Bearer " + tok.AccessToken}, "Content-Type": {"application/json"}}
	rec = do("/cometd/64.0", `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"id":"1"}]`, h)
	var hs []struct {
		ClientID string `json:"clientId"`
	}
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &hs))
	for _, c := range rec.Result().Cookies() {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	do("/cometd/64.0", `[{"channel":"/meta/subscribe","clientId":"`+hs[0].ClientID+`","subscription":"/data/AccountChangeEvent","id":"2","ext":{"replay":{"/data/AccountChangeEvent":-2}}}]`, h)
	do("/cometd/64.0", `[{"channel":"/meta/connect","clientId":"`+hs[0].ClientID+`","connectionType":"long-polling","id":"3","advice":{"timeout":0}}]`, h)
	return s, hs[0].ClientID, h
}

func rewind(s *Server, c string) {
	s.store.Lock()
	s.cometd.RewindLocked(c)
	s.store.Unlock()
}

func connectBody(c string) []byte {
	return []byte(`[{"channel":"/meta/connect","clientId":"` + c + `","connectionType":"long-polling","id":"4"}]`)
}

// BenchmarkServeBacklog measures the emulator's CPU per delivered event: a connect answer of 1,000 retained
// ~1 KB CDC events, built from the stored bytes (handler cost, no network).
func BenchmarkServeBacklog(b *testing.B) {
	s, c, h := benchSession(b)
	body := connectBody(c)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rewind(s, c)
		req := httptest.NewRequest(http.MethodPost, "/cometd/64.0", bytes.NewReader(body))
		req.Header = h
		w.n = 0
		s.ServeHTTP(w, req)
	}
	b.StopTimer()
	require.Equal(b, http.StatusOK, w.status)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchEvents, "ns/event")
	b.ReportMetric(float64(w.n)/benchEvents, "bytes/event")
}

// BenchmarkServeBacklogLoopback serves the same answer over loopback TCP to a client that discards it; the
// process CPU (server and client) per event is reported as cpu-ns/event.
func BenchmarkServeBacklogLoopback(b *testing.B) {
	s, c, h := benchSession(b)
	ts := httptest.NewServer(s)
	defer ts.Close()
	body := connectBody(c)
	hc := ts.Client()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for b.Loop() {
		rewind(s, c)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/cometd/64.0", bytes.NewReader(body))
		req.Header = h.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchEvents, "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/benchEvents, "cpu-ns/event")
}

func TestCDCPayloadAboutOneKB(t *testing.T) {
	s, _, _ := benchSession(t)
	s.store.Lock()
	defer s.store.Unlock()
	total := 0
	r := s.store.LookupLocked("/data/AccountChangeEvent").Retained()
	for _, ev := range r {
		total += len(ev.Msg)
		require.True(t, json.Valid(ev.Msg))
	}
	avg := total / len(r)
	assert.InDelta(t, 1024, avg, 200, "average CDC message %d bytes", avg)
}
