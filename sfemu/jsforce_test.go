package sfemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// jsforce 3.10.16 (pinned in testdata/jsforce/package-lock.json), a real client, runs testdata/jsforce/org.js
// against an emulator holding 3,000 Accounts: SOAP login, create, retrieve, update, query with queryMore and
// COUNT(), a Bulk API 2.0 query, describe and delete, while its streaming client listens to the Account change
// events and a PushTopic it created over REST, and subscribes to a channel that does not exist.

const (
	jsforceDir     = "testdata/jsforce"
	jsforceInstall = "run `npm ci --prefix sfemu/testdata/jsforce` (make node-deps does)"
	jsforceRecords = 3000
)

type jsforceRun struct {
	Login struct {
		UserID         string `json:"userId"`
		OrganizationID string `json:"organizationId"`
		InstanceURL    string `json:"instanceUrl"`
	} `json:"login"`
	PushTopic struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
	} `json:"pushTopic"`
	BadSubscribe string `json:"badSubscribe"`
	Created      struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
	} `json:"created"`
	Retrieved   map[string]any `json:"retrieved"`
	Updated     map[string]any `json:"updated"`
	AfterUpdate map[string]any `json:"afterUpdate"`
	Query       struct {
		TotalSize   int  `json:"totalSize"`
		Pages       int  `json:"pages"`
		DistinctIDs int  `json:"distinctIds"`
		HasCreated  bool `json:"hasCreated"`
	} `json:"query"`
	Count int `json:"count"`
	Bulk  struct {
		Rows       int  `json:"rows"`
		HasCreated bool `json:"hasCreated"`
	} `json:"bulk"`
	Describe struct {
		Name      string   `json:"name"`
		KeyPrefix string   `json:"keyPrefix"`
		Fields    []string `json:"fields"`
	} `json:"describe"`
	Deleted     map[string]any   `json:"deleted"`
	CDC         []map[string]any `json:"cdc"`
	TopicEvents []map[string]any `json:"topicEvents"`
}

func TestJSForceAgainstTheOrg(t *testing.T) {
	node := requireNodeModules(t, jsforceDir, jsforceInstall, "jsforce")
	cfg := sfemu.DefaultConfig()
	cfg.Records = []sfemu.ObjectCount{{Object: "Account", Count: jsforceRecords}}
	srv := sfemu.New(cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "org.js")
	cmd.Dir = jsforceDir
	cmd.Env = append(cmd.Environ(), "SFEMU_URL="+ts.URL, "SFEMU_USERNAME="+cfg.Username, "SFEMU_PASSWORD="+cfg.Password)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "org.js: %s\nstdout: %s", stderr.String(), stdout.String())
	var run jsforceRun
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &run), stdout.String())

	// SOAP login: the user and org of the emulator, and the instance it serves.
	assert.Equal(t, sfemu.DefaultUserID, run.Login.UserID)
	assert.Equal(t, sfemu.DefaultOrgID, run.Login.OrganizationID)
	assert.Equal(t, ts.URL, run.Login.InstanceURL)

	// Records: create, retrieve, update, query (3,000 + 1 over two pages), COUNT(), Bulk 2.0, describe, delete.
	require.True(t, run.Created.Success)
	id := run.Created.ID
	assert.Regexp(t, `^001[0-9A-Za-z]{15}$`, id)
	assert.Equal(t, "jsforce Account", run.Retrieved["Name"])
	assert.Equal(t, "Energy", run.Retrieved["Industry"])
	assert.Equal(t, true, run.Updated["success"])
	assert.Equal(t, "(415) 555-0142", run.AfterUpdate["Phone"])
	assert.Equal(t, jsforceRecords+1, run.Query.TotalSize)
	assert.Equal(t, 2, run.Query.Pages, "2,000 records a page")
	assert.Equal(t, jsforceRecords+1, run.Query.DistinctIDs)
	assert.True(t, run.Query.HasCreated)
	assert.Equal(t, jsforceRecords+1, run.Count)
	assert.Equal(t, jsforceRecords+1, run.Bulk.Rows)
	assert.True(t, run.Bulk.HasCreated)
	assert.Equal(t, "Account", run.Describe.Name)
	assert.Equal(t, "001", run.Describe.KeyPrefix)
	assert.Subset(t, run.Describe.Fields, []string{"Id", "Name", "Industry", "Phone", "SystemModstamp", "IsDeleted"})
	assert.Equal(t, true, run.Deleted["success"])
	rec, ok := srv.Org().Get(id)
	require.True(t, ok)
	assert.True(t, rec.Deleted(), "the record is in the recycle bin")

	// The change events of exactly those changes, the UPDATE carrying only the changed field.
	require.Len(t, run.CDC, 3, "%v", run.CDC)
	var types []string
	for _, m := range run.CDC {
		p := m["payload"].(map[string]any)
		h := p["ChangeEventHeader"].(map[string]any)
		types = append(types, h["changeType"].(string))
		assert.Equal(t, []any{id}, h["recordIds"])
	}
	assert.Equal(t, []string{"CREATE", "UPDATE", "DELETE"}, types)
	update := run.CDC[1]["payload"].(map[string]any)
	assert.Equal(t, []any{"Phone", "LastModifiedDate"}, update["ChangeEventHeader"].(map[string]any)["changedFields"])
	var keys []string
	for k := range update {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"ChangeEventHeader", "Phone", "LastModifiedDate"}, keys)
	assert.Equal(t, "(415) 555-0142", update["Phone"])

	// The PushTopic created over REST fires on the matching changes.
	require.True(t, run.PushTopic.Success)
	var topicTypes []string
	for _, m := range run.TopicEvents {
		topicTypes = append(topicTypes, m["event"].(map[string]any)["type"].(string))
		assert.Equal(t, id, m["sobject"].(map[string]any)["Id"])
	}
	assert.Equal(t, []string{"created", "updated", "deleted"}, topicTypes)

	// A channel nothing defined: Salesforce's answer.
	assert.True(t, strings.Contains(run.BadSubscribe, "The channel you requested to subscribe to doesn"), run.BadSubscribe)
}
