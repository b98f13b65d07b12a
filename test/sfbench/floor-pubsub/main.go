// Command floor-pubsub is the benchmark's lower bound of client work over the Pub/Sub API, as floor is over
// CometD: a minimal gRPC client that subscribes to one topic from the earliest event and only asks for more. It
// asks for 100 events (the most a stream may owe), and on each response counts its events and at once asks for
// as many again, so the stream always owes what Salesforce allows. Responses are unmarshalled by gRPC's protobuf
// codec and thrown away: no Avro decoding, no metadata, no acknowledgement, no checkpoint. Whatever rate it reaches
// bounds what any Pub/Sub client can do against the same emulator on the same machine; sfbench runs it next to
// bin/benthos and the Pub/Sub peers.
//
// Usage: SFBENCH_TOKEN=<access token> floor-pubsub INSTANCE_URL GRPC_ADDR TOPIC COUNT
//
// Output (stdout, one JSON object per line, the protocol of the other peers): {"subscribed":TOPIC}, then after
// COUNT events {"events":N,"last_replay_id":ID,"elapsed_ms":MS,"bytes":B} (ID: the last replay id read as a
// big-endian integer, the emulator's form; B: the events' payload bytes). It then idles until SIGINT or SIGTERM,
// so that the harness can read its CPU time and peak memory from /proc before it exits.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/test/sfbench/peerline"
)

// fetchSize is the most one Subscribe stream may owe.
const fetchSize = 100

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor-pubsub:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 4 {
		return errors.New("usage: SFBENCH_TOKEN=... floor-pubsub INSTANCE_URL GRPC_ADDR TOPIC COUNT")
	}
	instance, addr, topic := strings.TrimRight(args[0], "/"), args[1], args[2]
	token, want, err := peerline.Inputs(args[3])
	if err != nil {
		return err
	}
	stop := peerline.NotifyStop()

	ctx := context.Background()
	org, err := orgID(ctx, instance, token)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dialling %s: %w", addr, err)
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "accesstoken", token, "instanceurl", instance, "tenantid", org)
	started := time.Now()
	res, err := drain(ctx, eventbusv1.NewPubSubClient(conn), topic, want)
	if err != nil {
		return err
	}
	peerline.Finish(res, started, stop)
	return nil
}

// drain reads want events from the earliest one, keeping the stream owing fetchSize events.
func drain(ctx context.Context, api eventbusv1.PubSubClient, topic string, want int64) (peerline.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream
	stream, err := api.Subscribe(ctx)
	if err != nil {
		return peerline.Result{}, fmt.Errorf("subscribing to %s: %w", topic, err)
	}
	first := &eventbusv1.FetchRequest{TopicName: topic, ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: fetchSize}
	if err := stream.Send(first); err != nil {
		return peerline.Result{}, fmt.Errorf("subscribing to %s: %w", topic, err)
	}
	topicJSON, _ := json.Marshal(topic)
	fmt.Printf("{\"subscribed\":%s}\n", topicJSON)
	var res peerline.Result
	for res.Events < want {
		resp, err := stream.Recv()
		if err != nil {
			return res, fmt.Errorf("receiving after %d events: %w", res.Events, err)
		}
		events := resp.GetEvents()
		if len(events) == 0 {
			continue // a keepalive
		}
		if err := stream.Send(&eventbusv1.FetchRequest{NumRequested: int32(len(events))}); err != nil {
			return res, fmt.Errorf("asking for more after %d events: %w", res.Events, err)
		}
		res.Events += int64(len(events))
		for _, ev := range events {
			res.Bytes += int64(len(ev.GetEvent().GetPayload()))
		}
		res.LastReplayID = replayInt(events[len(events)-1].GetReplayId())
	}
	return res, nil
}

// replayInt reads a replay id as a big-endian integer (the emulator's ids are 8 bytes); 0 for any other length.
func replayInt(id []byte) int64 {
	if len(id) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(id))
}

// orgID is the org id of the token's user (the tenantid header of every Pub/Sub call), from the userinfo endpoint.
func orgID(ctx context.Context, instance, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, instance+"/services/oauth2/userinfo", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("reading the user info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("reading the user info: HTTP %d", resp.StatusCode)
	}
	var info struct {
		OrganizationID string `json:"organization_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.OrganizationID == "" {
		return "", fmt.Errorf("reading the user info: no organization_id (%v)", err)
	}
	return info.OrganizationID, nil
}
