package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/cometd"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/eventstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The conformance test replays the request behind each real Salesforce sample in testdata/wire against the
// emulator and compares the answer with the sample, after normalising what differs by nature (client ids,
// message ids, replay ids, uuids, dates, cookie values). Each sample file names its source, so a failure names
// the Salesforce behaviour that broke. docs/emulator.md lists what no real sample settles.

// wireSample is one file of testdata/wire: "key: value" lines, then "-- real --" and the sample verbatim.
type wireSample struct {
	file, row, item, source, compare, note, real string
}

func loadWireSamples(t *testing.T) []wireSample {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "wire", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	var out []wireSample
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		head, real, ok := strings.Cut(string(b), "-- real --\n")
		require.True(t, ok, "%s: no '-- real --' line", p)
		s := wireSample{file: filepath.Base(p), real: strings.TrimSuffix(real, "\n")}
		for _, line := range strings.Split(strings.TrimSpace(head), "\n") {
			k, v, ok := strings.Cut(line, ": ")
			require.True(t, ok, "%s: header line %q", p, line)
			switch k {
			case "row":
				s.row = v
			case "item":
				s.item = v
			case "source":
				s.source = v
			case "compare":
				s.compare = v
			case "note":
				s.note = v
			default:
				t.Fatalf("%s: unknown header %q", p, k)
			}
		}
		require.NotEmpty(t, s.source, "%s: every sample names its source", p)
		out = append(out, s)
	}
	return out
}

var wireNormalisers = []struct {
	re *regexp.Regexp
	to string
}{
	{regexp.MustCompile(`"clientId":"[^"]*"`), `"clientId":"<clientId>"`},
	{regexp.MustCompile(`"id":"[^"]*"`), `"id":"<id>"`},
	{regexp.MustCompile(`clientId=[^,]*,`), `clientId=<clientId>,`},
	{regexp.MustCompile(`, id=[^,]*,`), `, id=<id>,`},
	{regexp.MustCompile(`Client \{[^}]*\}`), `Client {<clientId>}`},
	{regexp.MustCompile(`replayId \{[^}]*\}`), `replayId {<replayId>}`},
	{regexp.MustCompile(`'/cometd/\d+\.0'`), `'/cometd/<version>'`},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), `<uuid>`},
	{regexp.MustCompile(`sfdc-stream=[^;]*`), `sfdc-stream=<value>`},
	{regexp.MustCompile(`Expires=[^;]*GMT`), `Expires=<date>`},
}

func normaliseWire(s string) string {
	for _, n := range wireNormalisers {
		s = n.re.ReplaceAllString(s, n.to)
	}
	return s
}

// Value kinds of the shape comparison: values that differ by nature compare by kind, the rest literally.
var wireKinds = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$`), "<date, whole seconds>"},
	{regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`), "<date, ms>"},
	{regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`), "<hex key>"},
	{regexp.MustCompile(`^[a-zA-Z0-9]{3}[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$`), "<record id>"},
	{regexp.MustCompile(`^com/salesforce/api/(soap|rest)/\d+\.0;client=SfdcInternalAPI/$`), "<change origin>"},
	{regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`), "<schema>"},
}

// shapeOf maps decoded JSON to its shape: objects by key (order ignored), numbers as one kind, strings by kind
// or literally.
func shapeOf(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = shapeOf(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = shapeOf(e)
		}
		return out
	case json.Number:
		return "<number>"
	case string:
		for _, k := range wireKinds {
			if k.re.MatchString(x) {
				return k.kind
			}
		}
		return x
	}
	return v
}

func decodeNumbers(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m), "decoding %s", s)
	return m
}

// javaMap renders a flat JSON object as a Java client prints a Map: {k=v, k2=v2}, in the object's key order.
func javaMap(t *testing.T, raw string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var parts []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		v, err := dec.Token()
		require.NoError(t, err)
		parts = append(parts, fmt.Sprintf("%v=%v", k, v))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// only returns the single message of a Bayeux answer, byte for byte.
func only(t *testing.T, body []byte) string {
	t.Helper()
	var msgs []json.RawMessage
	require.NoError(t, json.Unmarshal(body, &msgs), "answer %s", body)
	require.Len(t, msgs, 1, "answer %s", body)
	return string(msgs[0])
}

// errorOf returns the error text of the single message of a Bayeux answer.
func errorOf(t *testing.T, body []byte) string {
	t.Helper()
	var m struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(only(t, body)), &m))
	return m.Error
}

// firstEventData returns data of the first event of a connect answer, byte for byte.
func firstEvent(t *testing.T, body []byte) (msg string, data string) {
	t.Helper()
	var msgs []json.RawMessage
	require.NoError(t, json.Unmarshal(body, &msgs))
	for _, m := range msgs {
		var ev struct {
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(m, &ev))
		if ev.Data != nil {
			return string(m), string(ev.Data)
		}
	}
	t.Fatalf("no event in %s", body)
	return "", ""
}

// streamOne subscribes to channel, publishes one event through publish and returns the delivered answer.
func streamOne(t *testing.T, e *testEmu, channel string, publish func()) []byte {
	t.Helper()
	c := e.loggedIn()
	c.handshake()
	c.subscribe(channel, nil)
	c.ready()
	publish()
	evs, _, resp := c.connect()
	require.Len(t, evs, 1, resp.String())
	return resp.body
}

// conformanceRuns replays each row's request; the answer is what the row's comparison reads.
var conformanceRuns = map[string]func(t *testing.T) string{
	"1": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		resp := e.postForm("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID},
			"client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {DefaultPassword}})
		require.Equal(t, http.StatusOK, resp.status, resp.String())
		return string(resp.body)
	},
	"2": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		resp := e.postForm("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID},
			"client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {"wrong"}})
		require.Equal(t, http.StatusBadRequest, resp.status)
		return string(resp.body)
	},
	"3": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		resp := e.get("/services/data/", "")
		require.Equal(t, http.StatusOK, resp.status)
		return string(resp.body)
	},
	"4": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		return string(e.loggedIn().handshake().body)
	},
	"5": func(t *testing.T) string {
		srv := New(Config{Seed: 1})
		t.Cleanup(srv.Close)
		ts := httptest.NewTLSServer(srv)
		t.Cleanup(ts.Close)
		e := &testEmu{t: t, srv: srv, ts: ts, url: ts.URL}
		c := e.newClient()
		c.hc = ts.Client()
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		c.hc.Jar = jar
		resp := e.do(mustReq(t, ts.URL+"/services/oauth2/token", "grant_type=client_credentials&client_id="+DefaultClientID+"&client_secret="+DefaultClientSecret), ts.Client())
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.Unmarshal(resp.body, &tok))
		c.auth = "Bearer " + tok.AccessToken
		return c.handshake().setCookie(cometd.CookieLB)
	},
	"6": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		_, _, resp := c.connect()
		return only(t, resp.body)
	},
	"7": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.ready()
		held := c.connectAsync()
		e.waitHeld(1)
		e.clock.Advance(DefaultHold)
		return only(t, await(t, held).body)
	},
	"8": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.clientID = "5zx0k8wq2d3uyl1kcn9ybp0ek1p" // never handed out
		_, _, resp := c.connect()
		return string(resp.body)
	},
	"9": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.ready()
		held := c.connectAsync()
		e.waitHeld(1)
		e.fault(`{"fault":"revoke_tokens"}`)
		return string(await(t, held).body)
	},
	"10": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.newClient()
		c.auth = "Bearer 00D5e000000SfEm!not-a-token"
		return only(t, c.post("", `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`).body)
	},
	"11": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		_, last := e.publish("/topic/topicName", 3)
		c := e.loggedIn()
		c.handshake()
		return errorOf(t, c.send(c.subscribeMsg("/topic/topicName", map[string]any{"/topic/topicName": last + 1000})).body)
	},
	"12": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		return javaMap(t, only(t, c.send(c.subscribeMsg("/topic/topicName", map[string]any{})).body))
	},
	"13": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.hc.Jar = nil
		return errorOf(t, c.send(c.subscribeMsg("/topic/topicName", nil)).body)
	},
	"14": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		return javaMap(t, only(t, c.send(c.subscribeMsg("/topic/topicName", nil)).body))
	},
	"15": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		return errorOf(t, c.post("/cometd", `[{"channel":"/meta/handshake","version":"1.0"}]`).body)
	},
	"16": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		e.clock.Advance(208 * time.Millisecond) // a date with milliseconds, as the sample's
		msg, _ := firstEvent(t, streamOne(t, e, "/topic/TestAccountStreaming", func() {
			e.publishPayloads("/topic/TestAccountStreaming", `{"Website":null,"Id":"001D000000KnaXjIAJ","Name":"TicTacToe"}`)
		}))
		return msg
	},
	"17": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		e.clock.Advance(334 * time.Millisecond)
		msg, _ := firstEvent(t, streamOne(t, e, "/u/TestStreaming", func() {
			e.publishPayloads("/u/TestStreaming", `"This is a message."`)
		}))
		return msg
	},
	"18": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		e.clock.Advance(517 * time.Millisecond)
		msg, _ := firstEvent(t, streamOne(t, e, "/event/Low_Ink__e", func() {
			e.publishPayloads("/event/Low_Ink__e", `{"Printer_Model__c":"XZO-5"}`)
		}))
		return msg
	},
	"19": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		e.clock.Advance(517 * time.Millisecond) // the commit timestamp must still have whole seconds
		date := e.clock.Now().UTC().Truncate(time.Second).Format(eventstore.TimeLayout)
		_, data := firstEvent(t, streamOne(t, e, "/data/Distributor__ChangeEvent", func() {
			e.control(http.MethodPost, "/emulator/publish", fmt.Sprintf(`{"channel":"/data/Distributor__ChangeEvent","change_type":"CREATE","payloads":[{"LastModifiedDate":%q,"OwnerId":%q,"CreatedById":%[2]q,"CreatedDate":%[1]q,"LastModifiedById":%[2]q,"Name":"Mohanc"}]}`, date, DefaultUserID), &PublishResponse{})
		}))
		return data
	},
	"20": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		e.clock.Advance(517 * time.Millisecond)
		date := e.clock.Now().UTC().Truncate(time.Second).Format(eventstore.TimeLayout)
		_, data := firstEvent(t, streamOne(t, e, "/data/Distributor__ChangeEvent", func() {
			e.control(http.MethodPost, "/emulator/publish", fmt.Sprintf(`{"channel":"/data/Distributor__ChangeEvent","change_type":"UPDATE","payloads":[{"LastModifiedDate":%q,"Name":"sundar2"}]}`, date), &PublishResponse{})
		}))
		return data
	},
	"21": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.ready()
		e.fault(`{"fault":"server_busy"}`)
		_, _, resp := c.connect()
		return only(t, resp.body)
	},
	"22": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.subscribe("/event/Low_Ink__e", nil)
		c.ready()
		resp := e.postJSON("/services/data/v60.0/sobjects/Low_Ink__e/", c.auth, `{"Printer_Model__c":"XZO-5"}`)
		require.Equal(t, http.StatusCreated, resp.status, resp.String())
		// The message is the EventUuid subscribers receive.
		_, data := firstEvent(t, func() []byte { _, _, r := c.connect(); return r.body }())
		var ev struct {
			Event struct{ EventUuid string } `json:"event"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &ev))
		assert.Contains(t, string(resp.body), `"message":"`+ev.Event.EventUuid+`"`)
		return string(resp.body)
	},
	"23": func(t *testing.T) string {
		e := startEmu(t, Config{}, true)
		c := e.loggedIn()
		c.handshake()
		c.subscribe("/u/Order", nil)
		c.ready()
		e.publish("/u/Order", 2)
		_, _, resp := c.connect()
		var msgs []map[string]any
		require.NoError(t, json.Unmarshal(resp.body, &msgs))
		require.Len(t, msgs, 3)
		assert.Equal(t, "/u/Order", msgs[0]["channel"])
		assert.Equal(t, "/u/Order", msgs[1]["channel"])
		assert.Equal(t, "/meta/connect", msgs[2]["channel"], "the emulator's choice: events first, then the connect reply")
		return ""
	},
}

func TestConformanceWithRealSamples(t *testing.T) {
	samples := loadWireSamples(t)
	seen := map[string]bool{}
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			run, ok := conformanceRuns[s.row]
			require.True(t, ok, "row %s has no request to replay", s.row)
			seen[s.row] = true
			got := run(t)
			why := fmt.Sprintf("row %s (%s), source %s", s.row, s.item, s.source)
			switch s.compare {
			case "exact", "cookie", "error", "javamap":
				assert.Equal(t, normaliseWire(s.real), normaliseWire(got), why)
			case "prefix":
				assert.True(t, strings.HasPrefix(got, s.real), "%s: the answer starts %.200s", why, got)
			case "keys":
				assert.Equal(t, keysOf(t, s.real), keysOf(t, got), why)
				checkTokenAnswer(t, got)
			case "shape":
				real := decodeNumbers(t, s.real)
				delete(real, "clientId") // see the sample's note
				assert.Equal(t, shapeOf(real), shapeOf(decodeNumbers(t, got)), why)
			case "cdc":
				real, ours := decodeNumbers(t, s.real), decodeNumbers(t, got)
				assert.Equal(t, shapeOf(real), shapeOf(ours), why)
				for _, m := range []map[string]any{real, ours} { // the properties hold for the sample too
					header := m["payload"].(map[string]any)["ChangeEventHeader"].(map[string]any)
					ts, err := header["commitTimestamp"].(json.Number).Int64()
					require.NoError(t, err)
					assert.Zero(t, ts%1000, "%s: commitTimestamp has whole seconds", why)
					assert.Len(t, header["commitNumber"].(json.Number).String(), 14, why)
				}
			case "unverified":
				t.Logf("%s: no real sample; the emulator's behaviour is pinned by the run itself", why)
			default:
				t.Fatalf("%s: unknown comparison %q", s.file, s.compare)
			}
		})
	}
	for row := range conformanceRuns {
		assert.True(t, seen[row], "row %s has a request but no sample in testdata/wire", row)
	}
}

// keysOf lists the top-level keys of a JSON object.
func keysOf(t *testing.T, s string) []string {
	t.Helper()
	m := decodeNumbers(t, s)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkTokenAnswer checks the value kinds of row 1 that the sample shows.
func checkTokenAnswer(t *testing.T, body string) {
	var tok map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	_, err := strconv.ParseInt(tok["issued_at"], 10, 64)
	assert.NoError(t, err, "issued_at is epoch milliseconds in a string")
	assert.Regexp(t, `^00D[A-Za-z0-9]{12}!`, tok["access_token"])
	assert.Regexp(t, `^[A-Za-z0-9+/]+=*$`, tok["signature"])
	assert.Equal(t, "Bearer", tok["token_type"])
}
