// Command pubsub-go is a `make bench` peer: Salesforce's Go example client for the Pub/Sub API (the go/ folder of
// github.com/forcedotcom/pub-sub-api, CC0; see README.md for what was changed) draining a topic of the Salesforce
// emulator from the earliest retained event. It follows examples/subscribe/main.go: read the user info, GetTopic,
// then Subscribe, which decodes every event's Avro payload with the schema's goavro codec into a map.
//
// Usage: SFBENCH_TOKEN=<access token> pubsub-go INSTANCE_URL GRPC_ADDR TOPIC COUNT
//
// Output (stdout, one JSON object per line): {"events":COUNT,"last_replay_id":ID,"elapsed_ms":MS} after COUNT
// events, where ID is the last replay id read as the emulator writes it (8 bytes, big-endian) and MS runs from
// just before the subscription to the COUNT-th event. The process then stays alive until SIGINT/SIGTERM, so that
// the harness can read its CPU time and peak memory from /proc before it exits.
package main

import (
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/developerforce/pub-sub-api/go/common"
	"github.com/developerforce/pub-sub-api/go/grpcclient"
	"github.com/developerforce/pub-sub-api/go/proto"
)

func main() {
	if len(os.Args) != 5 || os.Getenv("SFBENCH_TOKEN") == "" {
		log.Fatalf("usage: SFBENCH_TOKEN=... pubsub-go INSTANCE_URL GRPC_ADDR TOPIC COUNT")
	}
	want, err := strconv.Atoi(os.Args[4])
	if err != nil || want < 1 {
		log.Fatalf("COUNT must be a positive integer, got %q", os.Args[4])
	}
	common.OAuthEndpoint = os.Args[1]
	common.GRPCEndpoint = os.Args[2]
	common.TopicName = os.Args[3]
	common.ReplayPreset = proto.ReplayPreset_EARLIEST
	common.Plaintext = true
	common.StopAfter = want
	// The most events one FetchRequest may ask for: the example's 5 would measure round trips, not the client.
	common.Appetite = 100

	client, err := grpcclient.NewGRPCClient()
	if err != nil {
		log.Fatalf("could not create gRPC client: %v", err)
	}
	defer client.Close()
	client.UseToken(os.Getenv("SFBENCH_TOKEN"), common.OAuthEndpoint)
	if err := client.FetchUserInfo(); err != nil {
		log.Fatalf("could not read the user info: %v", err)
	}
	topic, err := client.GetTopic()
	if err != nil {
		log.Fatalf("could not read the topic: %v", err)
	}
	if !topic.GetCanSubscribe() {
		log.Fatalf("this user is not allowed to subscribe to the following topic: %s", common.TopicName)
	}

	start := time.Now()
	last, err := client.Subscribe(common.ReplayPreset, common.ReplayId)
	if err != nil {
		log.Fatalf("subscribing after %d events: %v", client.Received, err)
	}
	elapsed := time.Since(start)
	if len(last) != 8 {
		log.Fatalf("the last replay id is %d bytes, want 8", len(last))
	}
	fmt.Printf("{\"events\":%d,\"last_replay_id\":%d,\"elapsed_ms\":%.1f}\n", client.Received,
		int64(binary.BigEndian.Uint64(last)), float64(elapsed.Microseconds())/1000)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}
