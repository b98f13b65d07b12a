package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
	"github.com/salesforce-streaming/salesforce_streaming/test/sfbench/peerline"
)

// pollEvery is how often a drain's end is looked for (checkpoint file, a client's result line): the resolution
// of the wall times, small against drains of seconds.
const pollEvery = 20 * time.Millisecond

// drainResult is one client draining the backlog.
type drainResult struct {
	name    string
	command string
	wall    time.Duration // from starting the process to the end seen by the harness
	self    time.Duration // the client's own count from its handshake to the last event (0: not reported)
	events  int
	bytes   int64         // answer bytes read (the floor only)
	cpu     time.Duration // CPU time of the client process, read at the end
	peakRSS int64         // VmHWM of the client process, read at the end
	emuCPU  time.Duration // CPU time the emulator spent meanwhile
}

func (r drainResult) rate() float64 { return rate(r.events, r.wall.Seconds()) }

// measureEnd records the end of a drain that began at start: the wall time, the client's CPU and peak RSS, and
// the emulator's CPU since emuBefore. It runs before the client is stopped, while /proc still has it.
func (r *drainResult) measureEnd(start time.Time, client *harness.Process, emu *harness.Emulator, emuBefore harness.ProcStat) error {
	r.wall = time.Since(start)
	ps, err := harness.ReadProcStat(client.PID())
	if err != nil {
		return err
	}
	emuAfter, err := harness.ReadProcStat(emu.Proc.PID())
	if err != nil {
		return err
	}
	r.cpu, r.peakRSS, r.emuCPU = ps.CPU, ps.PeakRSS, emuAfter.CPU-emuBefore.CPU
	return nil
}

// drainExternal runs a peer or the floor (the `{"events":...}` line protocol) on the backlog and measures it.
func (b backlogBench) drainExternal(ctx context.Context, emu *harness.Emulator, token, name, path string, args []string, last int64) (drainResult, error) {
	dir := filepath.Join(b.dir, "backlog")
	res := drainResult{name: name, command: b.rel(path) + " " + strings.Join(args, " ")}
	emuBefore, err := harness.ReadProcStat(emu.Proc.PID())
	if err != nil {
		return res, err
	}
	start := time.Now()
	p, err := harness.StartProcess(harness.ProcessConfig{Name: name, Path: path, Args: args, Dir: dir,
		Env: []string{"SFBENCH_TOKEN=" + token}})
	if err != nil {
		return res, err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, b.opts.timeout)
	defer cancel()
	var line peerline.Result
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for line.Events == 0 {
		exited := p.Exited()
		for _, l := range strings.Split(p.Stdout(), "\n") {
			if strings.HasPrefix(l, `{"events":`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					return res, fmt.Errorf("parsing the result line of %s: %w", name, err)
				}
			}
		}
		if line.Events > 0 {
			break
		}
		if exited {
			return res, fmt.Errorf("%s exited before draining: %v\n%s", name, p.ExitErr(), p.Tail(20))
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("waiting for %s to drain: %w\n%s", name, ctx.Err(), p.Tail(20))
		case <-tick.C:
		}
	}
	if err := res.measureEnd(start, p, emu, emuBefore); err != nil {
		return res, err
	}
	if err := p.Stop(harness.DefaultStopTimeout); err != nil {
		return res, fmt.Errorf("stopping %s: %w", name, err)
	}
	if line.Events != int64(b.opts.events) || line.LastReplayID != last {
		return res, fmt.Errorf("%s received %d events up to replay id %d, want %d up to %d", name, line.Events, line.LastReplayID, b.opts.events, last)
	}
	res.events = int(line.Events)
	res.self = time.Duration(line.ElapsedMS * float64(time.Millisecond))
	res.bytes = line.Bytes
	return res, nil
}

// ensurePeer installs a Node peer's pinned dependencies when they are missing (a fresh clone).
func ensurePeer(ctx context.Context, dir string, logf func(string, ...any)) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return nil
	}
	logf("installing %s: npm ci --prefix %s", filepath.Base(dir), dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("installing the %s peer (npm ci --prefix %s): %w\n%s", filepath.Base(dir), dir, err, out)
	}
	return nil
}

// fetchToken obtains an access token from the emulator with the client credentials grant, for the clients that
// take a token rather than credentials (the Node peers, the floor).
func fetchToken(ctx context.Context, baseURL string) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {harness.EmulatorClientID},
		"client_secret": {harness.EmulatorClientSecret},
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("requesting a token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("requesting a token: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return "", fmt.Errorf("decoding the token answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("no access token (HTTP %d, error %q)", resp.StatusCode, tok.Error)
	}
	return tok.AccessToken, nil
}
