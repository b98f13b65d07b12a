package sfemu

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

const managedTopic = "/event/Order_Event__e"

// tooling calls the Tooling API with a bearer token.
func (e *pubsubEmu) tooling(method, path, body string) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+"/services/data/v64.0/tooling/"+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+e.token())
	req.Header.Set("Content-Type", "application/json")
	return e.do(req, nil)
}

// createManaged creates a ManagedEventSubscription and returns its id.
func (e *pubsubEmu) createManaged(name, defaultReplay, recoveryReplay string) string {
	e.t.Helper()
	resp := e.tooling(http.MethodPost, "sobjects/ManagedEventSubscription", fmt.Sprintf(
		`{"FullName":%q,"Metadata":{"label":"Managed %s","topicName":%q,"defaultReplay":%q,"state":"RUN","errorRecoveryReplay":%q}}`,
		name, name, managedTopic, defaultReplay, recoveryReplay))
	require.Equal(e.t, http.StatusCreated, resp.status, resp.String())
	var out struct {
		ID       string `json:"id"`
		Success  bool   `json:"success"`
		Errors   []any  `json:"errors"`
		Warnings []any  `json:"warnings"`
		Infos    []any  `json:"infos"`
	}
	require.NoError(e.t, json.Unmarshal(resp.body, &out))
	require.True(e.t, out.Success)
	require.NotNil(e.t, out.Warnings)
	require.NotNil(e.t, out.Infos)
	return out.ID
}

func TestToolingManagedEventSubscription(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	id := e.createManaged("Managed_Order_Sub", "EARLIEST", "LATEST")
	assert.Len(t, id, 18)
	assert.True(t, strings.HasPrefix(id, managedKeyPrefix), id)

	type record struct {
		Attributes    map[string]string `json:"attributes"`
		ID            string            `json:"Id"`
		DeveloperName string            `json:"DeveloperName"`
		Metadata      map[string]string `json:"Metadata"`
	}
	query := func(q string) (int, []record) {
		resp := e.tooling(http.MethodGet, "query/?q="+url.QueryEscape(q), "")
		require.Equal(t, http.StatusOK, resp.status, resp.String())
		var out struct {
			Size           int      `json:"size"`
			TotalSize      int      `json:"totalSize"`
			Done           bool     `json:"done"`
			EntityTypeName string   `json:"entityTypeName"`
			Records        []record `json:"records"`
		}
		require.NoError(t, json.Unmarshal(resp.body, &out))
		assert.True(t, out.Done)
		assert.Equal(t, "ManagedEventSubscription", out.EntityTypeName)
		assert.Equal(t, out.Size, out.TotalSize)
		return out.Size, out.Records
	}
	// The query the npm Pub/Sub client sends, by name and by 15- and 18-character id.
	for _, filter := range []string{"DeveloperName='Managed_Order_Sub'", "Id='" + id + "'", "Id='" + id[:15] + "'"} {
		n, recs := query("SELECT Id, DeveloperName, Metadata FROM ManagedEventSubscription WHERE " + filter + " LIMIT 1")
		require.Equal(t, 1, n, filter)
		assert.Equal(t, id, recs[0].ID)
		assert.Equal(t, "Managed_Order_Sub", recs[0].DeveloperName)
		assert.Equal(t, map[string]string{"label": "Managed Managed_Order_Sub", "topicName": managedTopic, "defaultReplay": "EARLIEST",
			"errorRecoveryReplay": "LATEST", "state": "RUN"}, recs[0].Metadata)
		assert.Equal(t, "ManagedEventSubscription", recs[0].Attributes["type"])
	}
	n, _ := query("SELECT Id FROM ManagedEventSubscription WHERE DeveloperName='Nope'")
	assert.Zero(t, n)

	get := e.tooling(http.MethodGet, "sobjects/ManagedEventSubscription/"+id, "")
	require.Equal(t, http.StatusOK, get.status, get.String())
	assert.Contains(t, string(get.body), `"topicName":"`+managedTopic+`"`)

	patch := e.tooling(http.MethodPatch, "sobjects/ManagedEventSubscription/"+id, `{"Metadata":{"state":"STOP"}}`)
	require.Equal(t, http.StatusNoContent, patch.status, patch.String())
	_, recs := query("SELECT Id, Metadata FROM ManagedEventSubscription WHERE Id='" + id + "'")
	assert.Equal(t, "STOP", recs[0].Metadata["state"])

	bad := []struct{ name, method, path, body, code string }{
		{"PAUSE is reserved", http.MethodPost, "sobjects/ManagedEventSubscription", `{"FullName":"P","Metadata":{"topicName":"/event/Order_Event__e","state":"PAUSE"}}`, "INVALID_INPUT"},
		{"no topic", http.MethodPost, "sobjects/ManagedEventSubscription", `{"FullName":"T","Metadata":{"state":"RUN"}}`, "REQUIRED_FIELD_MISSING"},
		{"duplicate name", http.MethodPost, "sobjects/ManagedEventSubscription", `{"FullName":"Managed_Order_Sub","Metadata":{"topicName":"/event/Order_Event__e"}}`, "DUPLICATE_DEVELOPER_NAME"},
		{"bad developer name", http.MethodPost, "sobjects/ManagedEventSubscription", `{"FullName":"9_bad__name","Metadata":{"topicName":"/event/Order_Event__e"}}`, "INVALID_INPUT"},
		{"a topic Pub/Sub does not serve", http.MethodPost, "sobjects/ManagedEventSubscription", `{"FullName":"U","Metadata":{"topicName":"/u/generic"}}`, "INVALID_INPUT"},
		{"unknown column", http.MethodGet, "query/?q=" + url.QueryEscape("SELECT Bogus FROM ManagedEventSubscription"), "", "INVALID_FIELD"},
		{"malformed query", http.MethodGet, "query/?q=" + url.QueryEscape("SELECT FROM"), "", "MALFORMED_QUERY"},
	}
	for _, tc := range bad {
		resp := e.tooling(tc.method, tc.path, tc.body)
		assert.Equal(t, http.StatusBadRequest, resp.status, "%s: %s", tc.name, resp)
		var errs []sfhttp.RESTError
		require.NoError(t, json.Unmarshal(resp.body, &errs), tc.name)
		require.Len(t, errs, 1, tc.name)
		assert.Equal(t, tc.code, errs[0].ErrorCode, tc.name)
	}

	del := e.tooling(http.MethodDelete, "sobjects/ManagedEventSubscription/"+id, "")
	require.Equal(t, http.StatusNoContent, del.status, del.String())
	assert.Equal(t, http.StatusNotFound, e.tooling(http.MethodGet, "sobjects/ManagedEventSubscription/"+id, "").status)
}

// managedStream opens a ManagedSubscribe stream and sends its first request.
func (e *pubsubEmu) managedStream(t *testing.T, first *eventbusv1.ManagedFetchRequest) (eventbusv1.PubSub_ManagedSubscribeClient, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx(t))
	stream, err := e.client.ManagedSubscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(first))
	return stream, cancel
}

// managedEvents receives responses until n events arrived and returns their replay ids.
func managedEvents(t *testing.T, stream eventbusv1.PubSub_ManagedSubscribeClient, n int) []int64 {
	t.Helper()
	var ids []int64
	for len(ids) < n {
		resp, err := stream.Recv()
		require.NoError(t, err)
		for _, ev := range resp.GetEvents() {
			id, ok := replayFromBytes(ev.GetReplayId())
			require.True(t, ok)
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, n)
	return ids
}

func (e *pubsubEmu) waitManagedIdle(t *testing.T, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		e.srv.store.Lock()
		defer e.srv.store.Unlock()
		active, exists := e.srv.pubsub.ManagedActiveLocked(id)
		return exists && !active
	}, 20*time.Second, 5*time.Millisecond, "the managed subscription is released")
}

func retainedIDs(t *testing.T, e *pubsubEmu, channel string) []int64 {
	t.Helper()
	e.srv.store.Lock()
	defer e.srv.store.Unlock()
	var ids []int64
	for _, ev := range e.srv.store.LookupLocked(channel).Retained() {
		ids = append(ids, ev.ID)
	}
	return ids
}

func TestManagedSubscribeResumesFromCommit(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	e.publish(managedTopic, 5)
	ids := retainedIDs(t, e, managedTopic)
	require.Len(t, ids, 5)
	subID := e.createManaged("Orders", "EARLIEST", "LATEST")

	// First run: nothing committed, so defaultReplay EARLIEST: all 5.
	stream, cancel := e.managedStream(t, &eventbusv1.ManagedFetchRequest{DeveloperName: "Orders", NumRequested: 10})
	assert.Equal(t, ids, managedEvents(t, stream, 5))

	// A second subscriber while the first holds it: ALREADY_EXISTS with Salesforce's error code.
	var trailer metadata.MD
	second, err := e.client.ManagedSubscribe(e.ctx(t), grpc.Trailer(&trailer))
	require.NoError(t, err)
	require.NoError(t, second.Send(&eventbusv1.ManagedFetchRequest{SubscriptionId: subID, NumRequested: 1}))
	_, err = second.Recv()
	assert.Equal(t, codes.AlreadyExists, status.Code(err), "%v", err)
	assert.Equal(t, []string{errCodeManagedActive}, trailer.Get("error-code"))

	// Commit the 3rd event; commits are answered on the stream.
	require.NoError(t, stream.Send(&eventbusv1.ManagedFetchRequest{CommitReplayIdRequest: &eventbusv1.CommitReplayRequest{CommitRequestId: "c1", ReplayId: replayBytes(ids[2])}}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetCommitResponse())
	assert.Equal(t, "c1", resp.GetCommitResponse().GetCommitRequestId())
	assert.Equal(t, replayBytes(ids[2]), resp.GetCommitResponse().GetReplayId())
	assert.Nil(t, resp.GetCommitResponse().GetError())
	assert.Positive(t, resp.GetCommitResponse().GetProcessTime())
	// A commit of an id the topic never had is refused in the answer, and the committed id stays.
	require.NoError(t, stream.Send(&eventbusv1.ManagedFetchRequest{CommitReplayIdRequest: &eventbusv1.CommitReplayRequest{CommitRequestId: "c2", ReplayId: replayBytes(ids[4] + 1000)}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	assert.Equal(t, eventbusv1.ErrorCode_COMMIT, resp.GetCommitResponse().GetError().GetCode())
	require.NoError(t, stream.CloseSend())
	cancel()
	e.waitManagedIdle(t, subID)

	// Second run, by id: resumes after the committed id, then live events.
	stream, cancel = e.managedStream(t, &eventbusv1.ManagedFetchRequest{SubscriptionId: subID, NumRequested: 10})
	defer cancel()
	assert.Equal(t, ids[3:], managedEvents(t, stream, 2), "delivery resumes after the committed replay id")
	first, last := e.publish(managedTopic, 2)
	live := managedEvents(t, stream, 2)
	assert.Equal(t, []int64{first, last}, live)

	// STOP disconnects the client and forgets the commit: the next RUN starts at defaultReplay (EARLIEST).
	require.NoError(t, stream.Send(&eventbusv1.ManagedFetchRequest{CommitReplayIdRequest: &eventbusv1.CommitReplayRequest{CommitRequestId: "c3", ReplayId: replayBytes(last)}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.Nil(t, resp.GetCommitResponse().GetError())
	patch := e.tooling(http.MethodPatch, "sobjects/ManagedEventSubscription/"+subID, `{"Metadata":{"state":"STOP"}}`)
	require.Equal(t, http.StatusNoContent, patch.status)
	_, err = stream.Recv()
	assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
	e.waitManagedIdle(t, subID)
	stopped, scancel := e.managedStream(t, &eventbusv1.ManagedFetchRequest{SubscriptionId: subID, NumRequested: 1})
	_, err = stopped.Recv()
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "a STOPped subscription cannot be subscribed: %v", err)
	scancel()
	patch = e.tooling(http.MethodPatch, "sobjects/ManagedEventSubscription/"+subID, `{"Metadata":{"state":"RUN"}}`)
	require.Equal(t, http.StatusNoContent, patch.status)
	restarted, rcancel := e.managedStream(t, &eventbusv1.ManagedFetchRequest{SubscriptionId: subID, NumRequested: 10})
	defer rcancel()
	assert.Equal(t, append(append([]int64{}, ids...), first, last), managedEvents(t, restarted, 7))
}

func TestManagedSubscribeErrorRecoveryAndCommitTimeout(t *testing.T) {
	e := startPubSubEmu(t, Config{}, true)
	e.publish(managedTopic, 3)
	ids := retainedIDs(t, e, managedTopic)
	subID := e.createManaged("Recover", "EARLIEST", "LATEST")
	e.srv.store.Lock()
	require.True(t, e.srv.pubsub.SetManagedCommitLocked(subID, ids[0]))
	e.srv.store.Unlock()
	var purged map[string]any
	e.control(http.MethodPost, "/emulator/purge", fmt.Sprintf(`{"channel":%q,"through_replay_id":%d}`, managedTopic, ids[1]), &purged)

	// The committed id is no longer retained: errorRecoveryReplay LATEST, so only new events.
	stream, cancel := e.managedStream(t, &eventbusv1.ManagedFetchRequest{SubscriptionId: subID, NumRequested: 10})
	defer cancel()
	waitTimers(t, e.clock, 2) // keepalive and commit timeout
	first, _ := e.publish(managedTopic, 1)
	assert.Equal(t, []int64{first}, managedEvents(t, stream, 1))

	// No commit for 1800 s: Salesforce's DEADLINE_EXCEEDED.
	e.clock.Advance(ManagedCommitTimeout)
	for {
		_, err := stream.Recv()
		if err == nil {
			continue // the keepalive that fell due on the way
		}
		require.NotErrorIs(t, err, io.EOF)
		assert.Equal(t, codes.DeadlineExceeded, status.Code(err))
		assert.True(t, strings.HasPrefix(status.Convert(err).Message(), "No CommitReplayRequests sent in the last 1800 seconds. Closing managed subscription."), status.Convert(err).Message())
		break
	}
}

func TestManagedSubscribeUnknown(t *testing.T) {
	e := startPubSubEmu(t, Config{}, false)
	stream, cancel := e.managedStream(t, &eventbusv1.ManagedFetchRequest{DeveloperName: "Nope", NumRequested: 1})
	defer cancel()
	_, err := stream.Recv()
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}
