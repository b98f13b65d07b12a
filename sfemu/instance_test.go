package sfemu

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The org's instance name, read with one SOQL query, changes with an org
// migration while the org's URL stays: the signal a client can compare.
func TestInstanceNameChangesWithMigration(t *testing.T) {
	e := startEmu(t, Config{}, true)
	auth := "Bearer " + e.token()
	instance := func(q string) (string, rawResp) {
		resp := e.get("/services/data/v64.0/query?q="+url.QueryEscape(q), auth)
		if resp.status != http.StatusOK {
			return "", resp
		}
		var answer struct {
			TotalSize int  `json:"totalSize"`
			Done      bool `json:"done"`
			Records   []struct {
				Attributes struct {
					Type string `json:"type"`
				} `json:"attributes"`
				InstanceName string
			} `json:"records"`
		}
		require.NoError(t, json.Unmarshal(resp.body, &answer), resp.String())
		require.Len(t, answer.Records, 1, resp.String())
		assert.Equal(t, 1, answer.TotalSize)
		assert.True(t, answer.Done)
		assert.Equal(t, "Organization", answer.Records[0].Attributes.Type)
		return answer.Records[0].InstanceName, resp
	}
	before, resp := instance("SELECT InstanceName FROM Organization")
	require.NotEmpty(t, before, resp.String())
	again, _ := instance("select   instancename from organization")
	assert.Equal(t, before, again, "the same instance until a migration")

	e.control(http.MethodPost, "/emulator/migrate_org", `{}`, nil)
	after, _ := instance("SELECT InstanceName FROM Organization")
	assert.NotEmpty(t, after)
	assert.NotEqual(t, before, after, "a migration moves the org to another instance")

	assert.Equal(t, http.StatusUnauthorized, e.get("/services/data/v64.0/query?q=SELECT+InstanceName+FROM+Organization", "").status)
}
