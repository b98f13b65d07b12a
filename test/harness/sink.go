package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Sink is an HTTP endpoint for a Benthos http_client output that can fail
// requests on purpose: an output whose failures cover whole batches, unlike
// a switch to `reject`, which fails single messages. Each request is one
// batch (batch_as_multipart: true, or one message) of Record JSON bodies.
// Accepted records are appended to a JSON-lines file in arrival order, so
// ReadRecords and Check work on it as on a file output.
type Sink struct {
	URL string // http://127.0.0.1:PORT/

	path   string
	reject func(batch []Record) bool
	srv    *http.Server
	done   chan error

	mu       sync.Mutex
	file     *os.File
	rejected [][]Record

	closeOnce sync.Once
	closeErr  error
}

// StartSink serves on a free loopback port, appending accepted records to
// path. reject (nil: accept everything) decides per request; a rejected
// request gets HTTP 500 and nothing of it is written.
func StartSink(path string, reject func(batch []Record) bool) (*Sink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting the sink: opening %s: %w", path, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the sink: %w", err)
	}
	s := &Sink{URL: "http://" + ln.Addr().String() + "/", path: path, reject: reject, file: f, done: make(chan error, 1)}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Path returns the file of accepted records.
func (s *Sink) Path() string { return s.path }

// Rejected returns the batches answered with an error, in order.
func (s *Sink) Rejected() [][]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]Record(nil), s.rejected...)
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	batch, err := readBatch(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reject != nil && s.reject(batch) {
		s.rejected = append(s.rejected, batch)
		http.Error(w, "rejected on purpose by the test sink", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	for _, rec := range batch {
		line, _ := json.Marshal(rec)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if _, err := s.file.Write(buf.Bytes()); err != nil {
		http.Error(w, "writing: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readBatch reads the records of a request: multipart parts, or a body of
// one or more JSON lines.
func readBatch(r *http.Request) ([]Record, error) {
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var bodies [][]byte
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading a multipart batch: %w", err)
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, fmt.Errorf("reading a multipart batch: %w", err)
			}
			bodies = append(bodies, b)
		}
	} else {
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			bodies = append(bodies, append([]byte(nil), sc.Bytes()...))
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading a batch: %w", err)
		}
	}
	var batch []Record
	for _, b := range bodies {
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil || rec.Channel == "" {
			return nil, fmt.Errorf("a message %q is not a {channel, replay_id} record", b)
		}
		batch = append(batch, rec)
	}
	return batch, nil
}

// Close stops the server and closes the file. It is idempotent.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closeErr = errors.Join(err, s.file.Close())
	})
	return s.closeErr
}
