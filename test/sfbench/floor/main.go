// Command floor is the benchmark's lower bound of client work: a minimal CometD long-polling client that
// handshakes, subscribes one channel from replay id -2, and then only reads the emulator's connect answers and
// throws them away, counting events by the occurrences of `"replayId"`. No JSON decoding of events, no metadata,
// no acknowledgement, no checkpoint: whatever rate it reaches bounds what any client can do against the same
// emulator on the same machine. sfbench runs it next to bin/benthos and the Node peers.
//
// Usage: SFBENCH_TOKEN=<access token> floor INSTANCE_URL CHANNEL COUNT
// Environment: SFBENCH_API_VERSION (default 64.0).
//
// Output (stdout, one JSON object per line, the same protocol as the Node peers): {"subscribed":CHANNEL}, then
// after COUNT events {"events":N,"last_replay_id":ID,"elapsed_ms":MS,"bytes":B}. It then idles until SIGINT or
// SIGTERM, so that the harness can read its CPU time and peak memory from /proc before it exits.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/sfbench/peerline"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: SFBENCH_TOKEN=... floor INSTANCE_URL CHANNEL COUNT")
	}
	token, want, err := peerline.Inputs(args[2])
	if err != nil {
		return err
	}
	version := os.Getenv("SFBENCH_API_VERSION")
	if version == "" {
		version = "64.0"
	}
	stop := peerline.NotifyStop()

	jar, _ := cookiejar.New(nil) // never fails without options
	c := &client{
		http:     &http.Client{Jar: jar, Timeout: 3 * time.Minute},
		endpoint: strings.TrimRight(args[0], "/") + "/cometd/" + version,
		auth:     "Bearer " + token,
	}
	channel := args[1]
	started := time.Now()
	res, err := c.drain(channel, want)
	if err != nil {
		return err
	}
	peerline.Finish(res, started, stop)
	return nil
}

type client struct {
	http     *http.Client
	endpoint string
	auth     string
	clientID string
	buf      bytes.Buffer // one answer at a time, reused
}

var replayKey = []byte(`"replayId":`)

func (c *client) drain(channel string, want int64) (peerline.Result, error) {
	var hs []struct {
		ClientID   string `json:"clientId"`
		Successful bool   `json:"successful"`
	}
	if err := c.post(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"ext":{"replay":true}}]`, &hs); err != nil {
		return peerline.Result{}, fmt.Errorf("handshaking: %w", err)
	}
	if len(hs) == 0 || !hs[0].Successful {
		return peerline.Result{}, fmt.Errorf("handshake denied: %s", c.buf.String())
	}
	c.clientID = hs[0].ClientID
	ch, _ := json.Marshal(channel)
	id, _ := json.Marshal(c.clientID)
	sub := fmt.Sprintf(`[{"channel":"/meta/subscribe","clientId":%s,"subscription":%s,"ext":{"replay":{%s:-2}}}]`, id, ch, ch)
	var subAnswer []struct {
		Successful bool `json:"successful"`
	}
	if err := c.post(sub, &subAnswer); err != nil {
		return peerline.Result{}, fmt.Errorf("subscribing to %s: %w", channel, err)
	}
	if len(subAnswer) == 0 || !subAnswer[0].Successful {
		return peerline.Result{}, fmt.Errorf("subscribe to %s denied: %s", channel, c.buf.String())
	}
	fmt.Printf("{\"subscribed\":%s}\n", ch)

	connect := fmt.Sprintf(`[{"channel":"/meta/connect","clientId":%s,"connectionType":"long-polling"}]`, id)
	var res peerline.Result
	for res.Events < want {
		if err := c.post(connect, nil); err != nil {
			return res, fmt.Errorf("connecting after %d events: %w", res.Events, err)
		}
		body := c.buf.Bytes()
		res.Bytes += int64(len(body))
		n := bytes.Count(body, replayKey)
		if n == 0 && bytes.Contains(body, []byte(`"successful":false`)) {
			return res, fmt.Errorf("connect failed after %d events: %.300s", res.Events, body)
		}
		if n > 0 {
			res.Events += int64(n)
			res.LastReplayID = lastReplayID(body)
		}
	}
	return res, nil
}

// post sends one Bayeux request and leaves the answer in c.buf; out, when not nil, receives it decoded.
func (c *client) post(body string, out any) error {
	req, err := http.NewRequest(http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.auth)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := io.Copy(&c.buf, resp.Body); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, c.buf.Bytes())
	}
	if out != nil {
		return json.Unmarshal(c.buf.Bytes(), out)
	}
	return nil
}

// lastReplayID reads the number after the last `"replayId":` of an answer (0 when there is none).
func lastReplayID(body []byte) int64 {
	i := bytes.LastIndex(body, replayKey)
	if i < 0 {
		return 0
	}
	rest := body[i+len(replayKey):]
	end := 0
	for end < len(rest) && (rest[end] == '-' || rest[end] >= '0' && rest[end] <= '9') {
		end++
	}
	n, _ := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n
}
