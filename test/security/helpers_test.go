// Package security attacks the real bin/benthos: a hostile token endpoint and
// CometD server written here (echoing the request body, the Authorization
// header, redirecting to http, answering an http instance_url to an https
// org_url), a recording proxy, and the streams API. Every text that leaves
// the process (logs at TRACE and so every level, errors, output bodies and
// metadata, /metrics, every HTTP API answer, `benthos echo` and `lint`) is
// scanned for every secret and token in every encoding.
package security

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

const (
	scenarioTimeout = 60 * time.Second
	stopTimeout     = 15 * time.Second
	logTailLines    = 80
)

// The secrets. Each changes under form, URL, JSON and backslash encoding, and
// is built from pieces (Qzv8Kw…) found nowhere else, so that a leaked tail is
// caught too.
const (
	clientSecret = `Qzv8Kw"Jh3Np&Xr5q Ty+Wb2/é\Mc7zz`
	password     = `Pk4Lm"Zs9Dd&Vb6w 😀Gh1=Fy8%20Rn5`
	envPassword  = `Ev2Hx'Ok7Uu&Yt3c Pl0+Ji4%2Fé` // no " or \: Benthos interpolates it into a double-quoted string
	clientID     = "sec-client-id"
	username     = "sec-user@example.com"
)

// tokenFor is the n-th access token the fake token endpoint issues: shaped
// like a Salesforce session id, with characters that change under encoding.
func tokenFor(n int) string {
	return fmt.Sprintf(`00D000000000001AAA!AQ%02dWx9Tq"Bn4&Cv7 Kd+Ls/`, n)
}

// requireBinary fails when bin/benthos is missing, or skips when nothing
// asked for it (SALESFORCE_STREAMING_BIN unset, e.g. `go test ./...` before
// `make build`).
func requireBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("security tests run the built bin/benthos; skipped in -short mode")
	}
	_, err := harness.Binary(harness.BenthosBinary)
	if errors.Is(err, harness.ErrBinaryMissing) && os.Getenv(harness.BinEnv) == "" {
		t.Skipf("security tests need the binary: %v", err)
	}
	require.NoError(t, err)
}

// encodings of a secret as a server, proxy or logger may write it.
func encodings(s string) map[string]string {
	js, _ := json.Marshal(s)
	var ascii strings.Builder
	for _, r := range string(js[1 : len(js)-1]) {
		if r < 0x80 {
			ascii.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&ascii, `\u%04x`, u)
		}
	}
	q := strconv.Quote(s)
	qa := strconv.QuoteToASCII(s)
	return map[string]string{
		"raw":        s,
		"form":       url.QueryEscape(s),
		"form-lower": strings.ToLower(url.QueryEscape(s)),
		"query%20":   strings.ReplaceAll(url.QueryEscape(s), "+", "%20"),
		"path":       url.PathEscape(s),
		"json":       string(js[1 : len(js)-1]),
		"json-ascii": ascii.String(),
		"go-quote":   q[1 : len(q)-1],
		"go-ascii":   qa[1 : len(qa)-1],
		"backslash":  strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s),
		"html":       html.EscapeString(s),
		"base64":     base64.StdEncoding.EncodeToString([]byte(s)),
	}
}

// pieces are the distinctive runs of a secret between special characters.
func pieces(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') }) {
		if len(p) >= 5 && p != "00D000000000001AAA" {
			out = append(out, p)
		}
	}
	return out
}

// scanner checks texts for every secret in every form.
type scanner struct {
	t       *testing.T
	secrets []string
	scanned int
}

func newScanner(t *testing.T, secrets ...string) *scanner {
	return &scanner{t: t, secrets: secrets}
}

// scan asserts that text holds no secret, no encoding of one and no piece.
func (s *scanner) scan(where, text string) {
	s.t.Helper()
	s.scanned++
	for _, secret := range s.secrets {
		for name, form := range encodings(secret) {
			if strings.Contains(text, form) {
				s.t.Errorf("%s holds a secret (%s form %q):\n%s", where, name, form, excerptAround(text, form))
			}
		}
		for _, p := range pieces(secret) {
			if strings.Contains(text, p) {
				s.t.Errorf("%s holds a piece %q of a secret:\n%s", where, p, excerptAround(text, p))
			}
		}
	}
}

func excerptAround(text, needle string) string {
	i := strings.Index(text, needle)
	from, to := max(0, i-300), min(len(text), i+len(needle)+300)
	return text[from:to]
}

// scanFile scans a file if it exists.
func (s *scanner) scanFile(path string) {
	s.t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(s.t, err)
	s.scan(filepath.Base(path), string(b))
}

// scanAPI GETs each path of the HTTP API at addr and scans the answers.
func (s *scanner) scanAPI(ctx context.Context, addr string, paths ...string) map[string]string {
	s.t.Helper()
	answers := map[string]string{}
	for _, p := range paths {
		status, body := httpDo(ctx, s.t, http.MethodGet, "http://"+addr+p, "")
		s.scan("GET "+p+" ("+strconv.Itoa(status)+")", body)
		answers[p] = body
	}
	return answers
}

// httpDo sends one request and returns the status and body.
func httpDo(ctx context.Context, t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s", method, u)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// toYAML renders a config (JSON is YAML).
func toYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return string(b) + "\n"
}

// apiPaths are the answers of the HTTP API of a normal run.
var apiPaths = []string{"/ping", "/version", "/endpoints", "/ready", "/metrics", "/stats",
	"/debug/config/json", "/debug/config/yaml", "/benthos/debug/config/json"}

// observability is the service-wide config: the API on addr with its debug
// endpoints, JSON metrics, every log line.
func observability(addr string) map[string]any {
	return map[string]any{
		"http":    map[string]any{"enabled": true, "address": addr, "debug_endpoints": true},
		"logger":  map[string]any{"level": "TRACE", "format": "logfmt"},
		"metrics": map[string]any{"json_api": map[string]any{}},
	}
}

// memoryCache is the checkpoint cache resource.
const memoryCache = `cache_resources: [ { label: replay_ids, memory: {} } ]` + "\n"

// inputConfig is the salesforce_streaming input against org with the
// password grant; caFile and proxy are optional.
func inputConfig(org, caFile, proxy, pw string) map[string]any {
	conf := map[string]any{
		"org_url":          org,
		"channels":         []any{"/topic/Sec"},
		"checkpoint_cache": "replay_ids",
		"auth": map[string]any{
			"grant_type": "password", "client_id": clientID, "client_secret": clientSecret,
			"username": username, "password": pw,
		},
		"backoff": map[string]any{"initial_interval": "100ms", "max_interval": "500ms", "long_interval": "2s"},
	}
	if caFile != "" {
		conf["tls"] = map[string]any{"enabled": true, "root_cas_file": caFile}
	}
	if proxy != "" {
		conf["proxy_url"] = proxy
	}
	return map[string]any{"salesforce_streaming": conf}
}

// pipeline is a whole run config: the input, every metadata key copied into
// the output body, a file output.
func pipeline(addr string, input map[string]any, out string) map[string]any {
	conf := observability(addr)
	conf["input"] = input
	conf["pipeline"] = map[string]any{"processors": []any{map[string]any{"mapping": "root.body = this\nroot.meta = @"}}}
	conf["output"] = map[string]any{"file": map[string]any{"path": out, "codec": "lines"}}
	return conf
}

// run is one bin/benthos under attack.
type run struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	addr string
	out  string
	env  []string
	proc *harness.Process
}

// startRun starts bin/benthos on input with the API on a free port.
func startRun(t *testing.T, input map[string]any, env ...string) *run {
	t.Helper()
	return startRunWith(t, input, memoryCache, env...)
}

// startRunWith is startRun with the given cache resources.
func startRunWith(t *testing.T, input map[string]any, resources string, env ...string) *run {
	t.Helper()
	requireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	addr, err := harness.FreeAddr()
	require.NoError(t, err)
	r := &run{t: t, ctx: ctx, dir: t.TempDir(), addr: addr, env: env}
	r.out = filepath.Join(r.dir, "out.jsonl")
	r.proc, err = harness.StartBenthos(harness.BenthosConfig{
		Dir: r.dir, Name: "attack", Pipeline: toYAML(t, pipeline(addr, input, r.out)),
		Resources: []string{resources}, Env: env,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bin/benthos output:\n%s", r.proc.Tail(logTailLines))
		}
		_ = r.proc.Close()
	})
	return r
}

// waitLog waits for a log line holding every fragment.
func (r *run) waitLog(fragments ...string) string {
	r.t.Helper()
	line, err := r.proc.WaitOutput(r.ctx, func(line string) bool {
		for _, f := range fragments {
			if !strings.Contains(line, f) {
				return false
			}
		}
		return true
	})
	require.NoError(r.t, err, "waiting for a log line with %q", fragments)
	return line
}

// finish scans the HTTP API, stops the process and scans its logs and
// output, then `benthos echo` and `lint` of its config.
func (r *run) finish(s *scanner) {
	r.t.Helper()
	s.scanAPI(r.ctx, r.addr, apiPaths...)
	require.NoError(r.t, r.proc.Stop(stopTimeout))
	s.scan("stdout", r.proc.Stdout())
	s.scan("stderr", r.proc.Stderr())
	s.scanFile(r.out)
	for _, args := range [][]string{
		{"-r", filepath.Join(r.dir, "attack.resources-1.yaml"), "-c", filepath.Join(r.dir, "attack.pipeline.yaml"), "echo"},
		{"lint", "-r", filepath.Join(r.dir, "attack.resources-1.yaml"), filepath.Join(r.dir, "attack.pipeline.yaml")},
	} {
		res, err := harness.RunBenthos(r.ctx, r.dir, r.env, args...)
		require.NoError(r.t, err)
		require.Zero(r.t, res.ExitCode, res.String())
		s.scan(fmt.Sprintf("benthos %q", args), res.Output())
	}
	assert.Greater(r.t, s.scanned, 10, "the scan covered the answers, logs, output and CLI")
}

// fileHas reports whether the file exists and holds s.
func fileHas(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}
