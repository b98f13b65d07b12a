package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// runHeader carries the number of the bin/benthos run that sent a request
// (its CHAOS_RUN environment variable), so that the checker can tell a
// restart's legitimate replay from disorder within one run.
const runHeader = "X-Chaos-Run"

// maxSinkBody bounds one request body: a batch of records, each under 100 bytes.
const maxSinkBody = 16 << 20

// delivery is one record the sink accepted.
type delivery struct {
	Run      int
	Channel  string
	ReplayID int64
	At       time.Time
}

// sinkLine is one line of the sink's file: a harness.Record plus its run.
type sinkLine struct {
	Channel  string `json:"channel"`
	ReplayID int64  `json:"replay_id"`
	Run      int    `json:"run"`
	At       string `json:"at"` // when the sink accepted it, for post-mortems
}

// sink is the pipeline's output: an HTTP endpoint that bin/benthos'
// http_client output posts batches of records to (one JSON record per line).
// It is the record of delivery: what it answered 200 for was delivered, in
// the order it answered. It can be told to fail (503) for a while, which is
// how the soak makes the output fail; in a refusing run it also refuses a
// share of requests at random. Accepted records are appended to a file
// before the answer, so a failed run can be examined afterwards.
type sink struct {
	now func() time.Time

	mu         sync.Mutex
	file       *os.File
	failing    bool
	deliveries []delivery
	seen       map[string]map[int64]bool
	rejected   int         // requests answered 503 on purpose
	refusedBy  map[int]int // per run: requests answered 503 on purpose
	refusing   map[int]bool
	rng        *rand.Rand // draws random refusals in refusing runs
	bad        []string

	srv    *http.Server
	served chan struct{}
	close  sync.Once
}

// newSink returns a sink appending to path.
func newSink(path string) (*sink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the sink file: %w", err)
	}
	return &sink{now: time.Now, file: f, seen: map[string]map[int64]bool{}, refusedBy: map[int]int{}, refusing: map[int]bool{}}, nil
}

// start serves the sink on a free loopback port and returns its URL.
func (s *sink) start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listening for the sink: %w", err)
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // ends with ErrServerClosed on Close
	}()
	return "http://" + ln.Addr().String() + "/records", nil
}

// Close stops serving and closes the file. It is idempotent.
func (s *sink) Close() error {
	var err error
	s.close.Do(func() {
		if s.srv != nil {
			_ = s.srv.Close()
			<-s.served
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		err = s.file.Close()
	})
	return err
}

// setRefusing makes the sink refuse refuseShare of run's requests at random,
// drawn from seed (the first call seeds the draws).
func (s *sink) setRefusing(run int, seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(seed, 4))
	}
	s.refusing[run] = true
}

// setFailing makes the sink answer 503 (true) or accept (false).
func (s *sink) setFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST records", http.StatusMethodNotAllowed)
		return
	}
	run, err := strconv.Atoi(r.Header.Get(runHeader))
	if err != nil || run < 1 {
		s.badRequest(w, fmt.Sprintf("header %s = %q is not a run number", runHeader, r.Header.Get(runHeader)))
		return
	}
	// The whole body first: a request cut by a kill -9 is no delivery.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSinkBody))
	if err != nil {
		return
	}
	recs, err := parseRecords(body)
	if err != nil {
		s.badRequest(w, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing || s.refusing[run] && s.rng.Float64() < refuseShare {
		s.rejected++
		s.refusedBy[run]++
		http.Error(w, "sink failing on purpose", http.StatusServiceUnavailable)
		return
	}
	var buf bytes.Buffer
	at := s.now()
	for _, rec := range recs {
		line, _ := json.Marshal(sinkLine{Channel: rec.Channel, ReplayID: rec.ReplayID, Run: run, At: at.Format(time.RFC3339Nano)})
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if _, err := s.file.Write(buf.Bytes()); err != nil {
		http.Error(w, "writing records: "+err.Error(), http.StatusInternalServerError)
		return
	}
	for _, rec := range recs {
		s.deliveries = append(s.deliveries, delivery{Run: run, Channel: rec.Channel, ReplayID: rec.ReplayID, At: at})
		if s.seen[rec.Channel] == nil {
			s.seen[rec.Channel] = map[int64]bool{}
		}
		s.seen[rec.Channel][rec.ReplayID] = true
	}
	w.WriteHeader(http.StatusOK)
}

func (s *sink) badRequest(w http.ResponseWriter, why string) {
	s.mu.Lock()
	s.bad = append(s.bad, why)
	s.mu.Unlock()
	http.Error(w, why, http.StatusBadRequest)
}

// parseRecords reads a body of JSON records, one per line (the `lines`
// archive of a Benthos batch, or a single message).
func parseRecords(body []byte) ([]harness.Record, error) {
	var recs []harness.Record
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), maxSinkBody)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec harness.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("line %d %.100q is not a record: %w", n, line, err)
		}
		if rec.Channel == "" || rec.ReplayID <= 0 {
			return nil, fmt.Errorf("line %d %.100q is not a record: want a channel and a positive replay_id", n, line)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading records: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("no records in the body")
	}
	return recs, nil
}

// has reports whether the record of channel and id was delivered.
func (s *sink) has(channel string, id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[channel][id]
}

// hasAll reports whether every id of expected was delivered.
func (s *sink) hasAll(expected harness.Published) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch, ids := range expected {
		for _, id := range ids {
			if !s.seen[ch][id] {
				return false
			}
		}
	}
	return true
}

// snapshot returns what the sink accepted so far, in order, plus the bad
// requests and the 503s it answered on purpose, in all and per run.
func (s *sink) snapshot() (deliveries []delivery, bad []string, rejected int, refusedBy map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries), slices.Clone(s.bad), s.rejected, maps.Clone(s.refusedBy)
}

// count returns the number of records accepted so far.
func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deliveries)
}

// splitRuns turns deliveries into the per-run record lists harness.Check
// takes: runs[i] holds run i+1's records in delivery order (empty when that
// run delivered nothing).
func splitRuns(ds []delivery) [][]harness.Record {
	last := 0
	for _, d := range ds {
		last = max(last, d.Run)
	}
	runs := make([][]harness.Record, last)
	for _, d := range ds {
		runs[d.Run-1] = append(runs[d.Run-1], harness.Record{Channel: d.Channel, ReplayID: d.ReplayID})
	}
	return runs
}

// isFailing reports whether the sink answers 503.
func (s *sink) isFailing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failing
}
