// Package peerline is the line protocol between sfbench and the Go programs it runs on the backlog (the floors),
// the one the Node peers speak too: the access token in SFBENCH_TOKEN, the event count as an argument, one JSON
// Result line on stdout once every event is in, then an idle wait for SIGINT or SIGTERM, so that the harness
// reads the program's CPU time and peak memory from /proc before it exits.
package peerline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Result is the line a program prints once it received every event. Events comes first: the harness finds the
// line by its `{"events":` prefix.
type Result struct {
	Events       int64   `json:"events"`
	LastReplayID int64   `json:"last_replay_id"`
	ElapsedMS    float64 `json:"elapsed_ms"`
	Bytes        int64   `json:"bytes"`
}

// Inputs reads the access token from SFBENCH_TOKEN and the event count from count.
func Inputs(count string) (token string, want int64, err error) {
	want, err = strconv.ParseInt(count, 10, 64)
	if err != nil || want < 1 {
		return "", 0, fmt.Errorf("COUNT must be a positive integer, got %q", count)
	}
	token = os.Getenv("SFBENCH_TOKEN")
	if token == "" {
		return "", 0, errors.New("SFBENCH_TOKEN (the access token) is not set")
	}
	return token, want, nil
}

// NotifyStop installs the wait's signal handling. Call it before the work starts: a SIGINT while draining then
// ends the program at Finish instead of killing it mid-write.
func NotifyStop() <-chan os.Signal {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	return stop
}

// Finish prints res, its time taken since started, as one line, then waits for stop.
func Finish(res Result, started time.Time, stop <-chan os.Signal) {
	res.ElapsedMS = float64(time.Since(started)) / float64(time.Millisecond)
	line, _ := json.Marshal(res) // cannot fail: numbers only
	fmt.Printf("%s\n", line)
	<-stop
}
