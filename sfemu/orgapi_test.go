package sfemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/salesforce-streaming/salesforce_streaming/internal/pubsub"
	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/streamerr"
)

const dataPath = "/services/data/v66.0"

// call sends any method with an optional JSON body and the Authorization header.
func (e *testEmu) call(method, path, auth, body string) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.do(req, nil)
}

func decode[T any](t *testing.T, r rawResp) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), r.String())
	return v
}

func TestDataAPIRecords(t *testing.T) {
	e := startStrictEmu(t, Config{}, true)
	auth := "Bearer " + e.token()

	resp := e.postJSON(dataPath+"/sobjects/Account/", auth, `{"Name":"Express Logistics and Transport","NumberOfEmployees":120}`)
	require.Equal(t, http.StatusCreated, resp.status, resp.String())
	created := decode[map[string]any](t, resp)
	id := created["id"].(string)
	assert.Regexp(t, `^001[0-9A-Za-z]{15}$`, id)
	assert.Equal(t, `{"id":"`+id+`","success":true,"errors":[]}`, string(resp.body))
	assert.Equal(t, dataPath+"/sobjects/Account/"+id, resp.header.Get("Location"))

	resp = e.get(dataPath+"/sobjects/Account/"+id+"?fields=Name,NumberOfEmployees", auth)
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	assert.Equal(t, `{"attributes":{"type":"Account","url":"`+dataPath+`/sobjects/Account/`+id+`"},"Id":"`+id+`","Name":"Express Logistics and Transport","NumberOfEmployees":120}`, string(resp.body))
	full := decode[map[string]any](t, e.get(dataPath+"/sobjects/Account/"+id, auth))
	assert.Contains(t, full, "SystemModstamp")
	assert.Equal(t, false, full["IsDeleted"])
	assert.Nil(t, full["Phone"], "null fields are sent")

	resp = e.call(http.MethodPatch, dataPath+"/sobjects/Account/"+id, auth, `{"Phone":"(415) 555-0100"}`)
	assert.Equal(t, http.StatusNoContent, resp.status, resp.String())
	assert.Equal(t, "(415) 555-0100", decode[map[string]any](t, e.get(dataPath+"/sobjects/Account/"+id+"?fields=Phone", auth))["Phone"])

	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"unknown field", http.MethodPost, "/sobjects/Account", `{"Name":"x","Bacon__c":1}`, 400, `[{"message":"No such column 'Bacon__c' on sobject of type Account","errorCode":"INVALID_FIELD","fields":[]}]`},
		{"id in body", http.MethodPost, "/sobjects/Account", `{"Id":"001","Name":"x"}`, 400, `[{"message":"The Id field should not be specified in the sobject data.","errorCode":"INVALID_FIELD","fields":[]}]`},
		{"required", http.MethodPost, "/sobjects/Account", `{}`, 400, `[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]}]`},
		{"unknown record", http.MethodGet, "/sobjects/Account/001000000000000AAA", "", 404, `[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`},
		{"unknown fields param", http.MethodGet, "/sobjects/Account/" + id + "?fields=Nope", "", 400, `[{"message":"No such column 'Nope' on sobject of type Account","errorCode":"INVALID_FIELD"}]`},
		{"unknown object", http.MethodGet, "/sobjects/Nope/describe", "", 404, `[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.call(tc.method, dataPath+tc.path, auth, tc.body)
			assert.Equal(t, tc.status, resp.status)
			assert.Equal(t, tc.want, string(resp.body))
		})
	}

	assert.Equal(t, http.StatusNoContent, e.call(http.MethodDelete, dataPath+"/sobjects/Account/"+id, auth, "").status)
	for _, method := range []string{http.MethodDelete, http.MethodGet, http.MethodPatch} {
		resp := e.call(method, dataPath+"/sobjects/Account/"+id, auth, map[string]string{http.MethodPatch: `{"Name":"y"}`}[method])
		assert.Equal(t, http.StatusNotFound, resp.status, method)
		assert.Equal(t, `[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]`, string(resp.body), method)
	}
	assert.Equal(t, http.StatusUnauthorized, e.get(dataPath+"/sobjects/Account/"+id, "Bearer nope").status)

	desc := decode[map[string]any](t, e.get(dataPath+"/sobjects/Account/describe", auth))
	assert.Equal(t, "001", desc["keyPrefix"])
	assert.Equal(t, "Account", desc["name"])
	fields := map[string]map[string]any{}
	for _, f := range desc["fields"].([]any) {
		fields[f.(map[string]any)["name"].(string)] = f.(map[string]any)
	}
	for _, name := range []string{"Id", "Name", "SystemModstamp", "LastModifiedDate", "IsDeleted", "Industry"} {
		assert.Contains(t, fields, name)
	}
	assert.Equal(t, "tns:ID", fields["Id"]["soapType"])
	assert.Equal(t, "picklist", fields["Industry"]["type"])
	global := decode[map[string]any](t, e.get(dataPath+"/sobjects", auth))
	var names []string
	for _, o := range global["sobjects"].([]any) {
		names = append(names, o.(map[string]any)["name"].(string))
	}
	assert.Subset(t, names, []string{"Account", "Contact", "Opportunity", "Lead", "Case", "User", "PushTopic", "StreamingChannel"})
}

func TestDataAPIRequestLimit(t *testing.T) {
	e := startStrictEmu(t, Config{DailyAPIRequestLimit: 2}, true)
	auth := "Bearer " + e.token()
	assert.Equal(t, http.StatusOK, e.get(dataPath+"/sobjects", auth).status)
	resp := e.get(dataPath+"/limits", auth)
	assert.Equal(t, "api-usage=2/2", resp.header.Get("Sforce-Limit-Info"))
	resp = e.get(dataPath+"/sobjects", auth)
	assert.Equal(t, http.StatusForbidden, resp.status)
	assert.Equal(t, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, string(resp.body))
}

type queryAnswer struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

func TestDataAPIQuery(t *testing.T) {
	e := startStrictEmu(t, Config{Records: []ObjectCount{{Object: "Account", Count: 4500}}}, true)
	auth := "Bearer " + e.token()
	q := func(resource, soql string) rawResp {
		return e.get(dataPath+"/"+resource+"?q="+strings.ReplaceAll(soql, " ", "+"), auth)
	}
	resp := q("query", "SELECT Id, Name FROM Account ORDER BY Id")
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	page := decode[queryAnswer](t, resp)
	seen := map[string]bool{}
	pages := 0
	for {
		pages++
		assert.Equal(t, 4500, page.TotalSize)
		for _, r := range page.Records {
			seen[r["Id"].(string)] = true
			assert.Equal(t, "Account", r["attributes"].(map[string]any)["type"])
		}
		if page.Done {
			assert.Empty(t, page.NextRecordsURL)
			break
		}
		assert.Len(t, page.Records, 2000)
		assert.Regexp(t, `^/services/data/v66\.0/query/01g[0-9A-Za-z]{15}-\d+$`, page.NextRecordsURL)
		page = decode[queryAnswer](t, e.get(page.NextRecordsURL, auth))
	}
	assert.Equal(t, 3, pages)
	assert.Len(t, seen, 4500)

	assert.JSONEq(t, `{"totalSize":4500,"done":true,"records":[]}`, string(q("query", "SELECT COUNT() FROM Account").body))
	first := decode[queryAnswer](t, q("query", "SELECT Id FROM Account ORDER BY Id LIMIT 1")).Records[0]["Id"].(string)
	require.Equal(t, http.StatusNoContent, e.call(http.MethodDelete, dataPath+"/sobjects/Account/"+first, auth, "").status)
	assert.Equal(t, 4499, decode[queryAnswer](t, q("query", "SELECT COUNT() FROM Account")).TotalSize)
	all := decode[queryAnswer](t, q("queryAll", "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"))
	require.Equal(t, 1, all.TotalSize)
	assert.Equal(t, first, all.Records[0]["Id"])
	agg := decode[queryAnswer](t, q("query", "SELECT COUNT(Id) FROM Account"))
	assert.Equal(t, []map[string]any{{"attributes": map[string]any{"type": "AggregateResult"}, "expr0": float64(4499)}}, agg.Records)

	resp = q("query", "SELECT Bacon__c FROM Account LIMIT 2")
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, `[{"message":"\nSELECT Bacon__c FROM Account LIMIT 2\n       ^\nERROR at Row:1:Column:8\nNo such column 'Bacon__c' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.","errorCode":"INVALID_FIELD"}]`, string(resp.body))
	resp = q("query", "SELECT Id FROM Account WHERE")
	assert.Contains(t, string(resp.body), `"errorCode":"MALFORMED_QUERY"`)
	resp = e.get(dataPath+"/query/01g000000000000AAA-2000", auth)
	assert.Contains(t, string(resp.body), `"errorCode":"INVALID_QUERY_LOCATOR"`)
}

func TestDataAPICollections(t *testing.T) {
	e := startStrictEmu(t, Config{}, true)
	auth := "Bearer " + e.token()
	resp := e.postJSON(dataPath+"/composite/sobjects", auth, `{"allOrNone":false,"records":[{"attributes":{"type":"Account"},"Name":"Sitwell-Bluth"},{"attributes":{"type":"Contact"},"LastName":"Bluth"},{"attributes":{"type":"Account"}}]}`)
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	items := decode[[]map[string]any](t, resp)
	require.Len(t, items, 3)
	assert.Equal(t, true, items[0]["success"])
	assert.Equal(t, true, items[1]["success"])
	assert.Equal(t, false, items[2]["success"])
	assert.Equal(t, "REQUIRED_FIELD_MISSING", items[2]["errors"].([]any)[0].(map[string]any)["statusCode"])
	acct := items[0]["id"].(string)

	resp = e.postJSON(dataPath+"/composite/sobjects/Account", auth, fmt.Sprintf(`{"ids":[%q,"001000000000000AAA"],"fields":["Name"]}`, acct))
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	assert.Equal(t, `[{"attributes":{"type":"Account","url":"`+dataPath+`/sobjects/Account/`+acct+`"},"Id":"`+acct+`","Name":"Sitwell-Bluth"},null]`, string(resp.body))

	resp = e.call(http.MethodPatch, dataPath+"/composite/sobjects", auth, fmt.Sprintf(`{"records":[{"attributes":{"type":"Account"},"id":%q,"Name":"Bluth Company"}]}`, acct))
	assert.Equal(t, `[{"errors":[],"id":"`+acct+`","success":true}]`, string(resp.body))
	resp = e.call(http.MethodDelete, dataPath+"/composite/sobjects?ids="+acct+",001000000000000AAA", auth, "")
	items = decode[[]map[string]any](t, resp)
	assert.Equal(t, true, items[0]["success"])
	assert.Equal(t, false, items[1]["success"])

	var many []string
	for range 201 {
		many = append(many, `{"attributes":{"type":"Account"},"Name":"x"}`)
	}
	resp = e.postJSON(dataPath+"/composite/sobjects", auth, `{"records":[`+strings.Join(many, ",")+`]}`)
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, string(resp.body), "EXCEEDED_ID_LIMIT")
}

func TestDataAPIBulkQuery(t *testing.T) {
	e := startStrictEmu(t, Config{Records: []ObjectCount{{Object: "Account", Count: 25}}}, true)
	auth := "Bearer " + e.token()
	resp := e.postJSON(dataPath+"/jobs/query", auth, `{"operation":"query","query":"SELECT Id, Name FROM Account"}`)
	require.Equal(t, http.StatusOK, resp.status, resp.String())
	job := decode[map[string]any](t, resp)
	id := job["id"].(string)
	assert.Equal(t, "750", id[:3])
	assert.Equal(t, "UploadComplete", job["state"])
	assert.Equal(t, 66.0, job["apiVersion"])

	resp = e.get(dataPath+"/jobs/query/"+id+"/results", auth)
	assert.Equal(t, http.StatusPreconditionFailed, resp.status, "results before JobComplete")
	status := decode[map[string]any](t, e.get(dataPath+"/jobs/query/"+id, auth))
	assert.Equal(t, "JobComplete", status["state"])
	assert.Equal(t, 25.0, status["numberRecordsProcessed"])

	var rows []string
	locator, pages := "", 0
	for locator != "null" {
		path := dataPath + "/jobs/query/" + id + "/results?maxRecords=10"
		if locator != "" {
			path += "&locator=" + locator
		}
		resp = e.get(path, auth)
		require.Equal(t, http.StatusOK, resp.status, resp.String())
		assert.Equal(t, "text/csv", resp.header.Get("Content-Type"))
		lines := strings.Split(strings.TrimSuffix(string(resp.body), "\n"), "\n")
		assert.Equal(t, `"Id","Name"`, lines[0])
		assert.Equal(t, fmt.Sprint(len(lines)-1), resp.header.Get("Sforce-NumberOfRecords"))
		rows = append(rows, lines[1:]...)
		locator = resp.header.Get("Sforce-Locator")
		pages++
	}
	assert.Equal(t, 3, pages)
	assert.Len(t, rows, 25)
	limits := e.limits(auth)
	assert.EqualValues(t, 9999, limits["DailyBulkV2QueryJobs"].Remaining)

	resp = e.postJSON(dataPath+"/jobs/query", auth, `{"operation":"query","query":"SELECT COUNT() FROM Account"}`)
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, http.StatusNoContent, e.call(http.MethodDelete, dataPath+"/jobs/query/"+id, auth, "").status)
	assert.Equal(t, http.StatusNotFound, e.get(dataPath+"/jobs/query/"+id, auth).status)
}

// payloadOf returns an event's data.payload and its ChangeEventHeader.
func payloadOf(t *testing.T, ev map[string]any) (map[string]any, map[string]any) {
	t.Helper()
	p := ev["data"].(map[string]any)["payload"].(map[string]any)
	return p, p["ChangeEventHeader"].(map[string]any)
}

func TestRecordChangesCauseChangeEvents(t *testing.T) {
	e := startStrictEmu(t, Config{Records: []ObjectCount{{Object: "Account", Count: 10}}}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/AccountChangeEvent", nil)
	c.ready()

	resp := e.postJSON(dataPath+"/sobjects/Account", c.auth, `{"Name":"Acme","Industry":"Energy"}`)
	require.Equal(t, http.StatusCreated, resp.status, resp.String())
	id := decode[map[string]any](t, resp)["id"].(string)
	require.Equal(t, http.StatusNoContent, e.call(http.MethodPatch, dataPath+"/sobjects/Account/"+id, c.auth, `{"Phone":"(415) 555-0100","Industry":"Energy"}`).status)
	require.Equal(t, http.StatusNoContent, e.call(http.MethodDelete, dataPath+"/sobjects/Account/"+id, c.auth, "").status)
	resp = e.postJSON(dataPath+"/composite/sobjects", c.auth, `{"records":[{"attributes":{"type":"Account"},"Name":"One"},{"attributes":{"type":"Contact"},"LastName":"Two"},{"attributes":{"type":"Account"},"Name":"Three"}]}`)
	require.Equal(t, http.StatusOK, resp.status)

	evs, _, _ := c.connect()
	require.Len(t, evs, 5, "create, update, delete, and the two Accounts of the collection (the Contact is not selected)")
	body, h := payloadOf(t, evs[0])
	assert.Equal(t, "CREATE", h["changeType"])
	assert.Equal(t, []any{id}, h["recordIds"])
	assert.Equal(t, "Acme", body["Name"])
	assert.Equal(t, "Energy", body["Industry"])
	assert.NotContains(t, body, "Phone", "a CREATE carries the non-null fields")
	assert.Contains(t, body, "CreatedDate")
	assert.Regexp(t, `^com/salesforce/api/rest/66\.0;`, h["changeOrigin"])

	body, h = payloadOf(t, evs[1])
	assert.Equal(t, "UPDATE", h["changeType"])
	assert.Equal(t, []any{"Phone", "LastModifiedDate"}, h["changedFields"], "Industry was set to its own value")
	delete(body, "ChangeEventHeader")
	assert.ElementsMatch(t, []string{"LastModifiedDate", "Phone"}, mapKeys(body))

	body, h = payloadOf(t, evs[2])
	assert.Equal(t, "DELETE", h["changeType"])
	assert.Len(t, body, 1, "a DELETE carries the header alone")

	_, h3 := payloadOf(t, evs[3])
	_, h4 := payloadOf(t, evs[4])
	assert.Equal(t, h3["transactionKey"], h4["transactionKey"], "one request, one transaction")
	assert.NotEqual(t, evs[0]["data"].(map[string]any)["payload"].(map[string]any)["ChangeEventHeader"].(map[string]any)["transactionKey"], h3["transactionKey"])
	assert.Equal(t, 1.0, h3["sequenceNumber"])
	assert.Equal(t, 3.0, h4["sequenceNumber"], "the unselected Contact keeps its place in the sequence")

	// Undelete through the control API's mutations is covered by TestMutate; here the recycle bin answers.
	all := decode[queryAnswer](t, e.get(dataPath+"/queryAll?q=SELECT+Id+FROM+Account+WHERE+IsDeleted+=+true", c.auth))
	assert.Equal(t, 1, all.TotalSize)
}

func TestPushTopicRecordsDecideEvents(t *testing.T) {
	e := startStrictEmu(t, Config{}, true)
	c := e.loggedIn()
	c.handshake()
	resp := c.send(c.subscribeMsg("/topic/EnergyAccounts", nil))
	assert.Equal(t, false, resp.messages(t)[0]["successful"], "no PushTopic record yet")

	resp = e.postJSON(dataPath+"/sobjects/PushTopic", c.auth, `{"Name":"EnergyAccounts","Query":"SELECT Id, Name, Phone FROM Account WHERE Industry = 'Energy'","ApiVersion":66.0,"NotifyForFields":"Referenced","NotifyForOperationDelete":false}`)
	require.Equal(t, http.StatusCreated, resp.status, resp.String())
	c.subscribe("/topic/EnergyAccounts", nil)
	c.ready()

	mk := func(body string) string {
		resp := e.postJSON(dataPath+"/sobjects/Account", c.auth, body)
		require.Equal(t, http.StatusCreated, resp.status, resp.String())
		return decode[map[string]any](t, resp)["id"].(string)
	}
	energy := mk(`{"Name":"Volt","Industry":"Energy"}`)
	mk(`{"Name":"Bank","Industry":"Banking"}`)                                                                         // no match
	e.call(http.MethodPatch, dataPath+"/sobjects/Account/"+energy, c.auth, `{"Description":"not a referenced field"}`) // no event
	e.call(http.MethodPatch, dataPath+"/sobjects/Account/"+energy, c.auth, `{"Phone":"(415) 555-0199"}`)
	e.call(http.MethodDelete, dataPath+"/sobjects/Account/"+energy, c.auth, "") // NotifyForOperationDelete false

	evs, _, _ := c.connect()
	require.Len(t, evs, 2)
	types := []string{}
	for _, ev := range evs {
		data := ev["data"].(map[string]any)
		types = append(types, data["event"].(map[string]any)["type"].(string))
		assert.Equal(t, energy, data["sobject"].(map[string]any)["Id"])
	}
	assert.Equal(t, []string{"created", "updated"}, types)
	assert.Equal(t, map[string]any{"Id": energy, "Name": "Volt", "Phone": "(415) 555-0199"}, evs[1]["data"].(map[string]any)["sobject"])
}

func TestChannelsExistOnlyWhenDefined(t *testing.T) {
	e := startStrictEmu(t, Config{Preload: []ChannelCount{{Channel: "/event/Order__e", Count: 1}, {Channel: "/topic/Invoices", Count: 1}}}, true)
	c := e.loggedIn()
	c.handshake()
	for _, ch := range []string{"/event/NoSuchEvent__e", "/data/Garbage", "/topic/NoSuchPushTopic", "/data/AccountChangeEvent", "/u/Nobody", "/event/order__e"} {
		resp := c.send(c.subscribeMsg(ch, nil))
		m := resp.messages(t)[0]
		assert.Equal(t, false, m["successful"], ch)
		assert.Equal(t, streamerr.ChannelMissing(ch), m["error"], ch)
	}
	for _, ch := range []string{"/event/Order__e", "/topic/Invoices", "/data/ChangeEvents"} {
		c.subscribe(ch, nil)
	}
	e.control(http.MethodPost, "/emulator/cdc", `{"entities":["Account"]}`, nil)
	c.subscribe("/data/AccountChangeEvent", nil)
	e.control(http.MethodPost, "/emulator/publish", `{"channel":"/event/Shipment__e","count":1}`, nil)
	c.subscribe("/event/Shipment__e", nil)
}

func TestMutate(t *testing.T) {
	e := startStrictEmu(t, Config{Records: []ObjectCount{{Object: "Lead", Count: 50}}}, true)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/LeadChangeEvent", nil)
	c.ready()

	var out MutateResponse
	e.control(http.MethodPost, "/emulator/mutate", `{"object":"Lead","count":40}`, &out)
	total := 0
	for _, n := range out.Changes {
		total += n
	}
	assert.Equal(t, 40, total)
	assert.Len(t, out.RecordIDs, 40)
	evs, _, _ := c.connect()
	require.Len(t, evs, 40)
	for i, ev := range evs {
		_, h := payloadOf(t, ev)
		assert.Equal(t, []any{out.RecordIDs[i]}, h["recordIds"])
	}

	e.control(http.MethodPost, "/emulator/mutate", `{"object":"Lead","count":5,"events":"gap"}`, &out)
	evs, _, _ = c.connect()
	require.Len(t, evs, 5)
	for i, ev := range evs {
		body, h := payloadOf(t, ev)
		assert.Len(t, body, 1, "a gap event is the header alone")
		assert.Regexp(t, `^GAP_(CREATE|UPDATE|DELETE|UNDELETE)$`, h["changeType"])
		assert.Equal(t, "", h["changeOrigin"])
		assert.Equal(t, []any{out.RecordIDs[i]}, h["recordIds"])
		assert.Equal(t, []any{}, h["changedFields"])
	}
	resp := e.get(dataPath+"/sobjects/Lead/"+out.RecordIDs[0], c.auth)
	assert.Contains(t, []int{http.StatusOK, http.StatusNotFound}, resp.status, "the record a gap event names can be re-read")

	e.control(http.MethodPost, "/emulator/mutate", `{"object":"Lead","count":30,"events":"overflow"}`, &out)
	evs, _, _ = c.connect()
	require.Len(t, evs, 1, "one overflow event per entity")
	_, h := payloadOf(t, evs[0])
	assert.Equal(t, "GAP_OVERFLOW", h["changeType"])
	assert.Equal(t, []any{"000000000000000AAA"}, h["recordIds"])

	resp = e.control(http.MethodPost, "/emulator/mutate", `{"object":"Nope","count":1}`, nil)
	assert.Equal(t, http.StatusBadRequest, resp.status)
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Concurrent REST writers and the generator change the same object: every committed change becomes exactly one
// event, in commit order, whoever commits (run with -race).
func TestConcurrentChangesPublishEveryChangeOnce(t *testing.T) {
	e := startStrictEmu(t, Config{Records: []ObjectCount{{Object: "Account", Count: 100}}}, false)
	c := e.loggedIn()
	c.handshake()
	c.subscribe("/data/AccountChangeEvent", map[string]any{"/data/AccountChangeEvent": -1})
	c.ready()

	const writers, each = 4, 25
	ids := make(chan string, writers*each)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				body := fmt.Sprintf(`{"Name":"writer %d record %d"}`, w, i)
				req, _ := http.NewRequest(http.MethodPost, e.url+dataPath+"/sobjects/Account", strings.NewReader(body))
				req.Header.Set("Authorization", c.auth)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var out map[string]any
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("create: %d %v %v", resp.StatusCode, out, err)
					return
				}
				ids <- out["id"].(string)
			}
			errs <- nil
		}()
	}
	var out MutateResponse
	e.control(http.MethodPost, "/emulator/mutate", `{"object":"Account","count":200}`, &out)
	for range writers {
		require.NoError(t, <-errs)
	}
	close(ids)

	creates := map[string]int{}
	var total int
	var last float64
	for range 100 {
		evs, _, _ := c.connect()
		for _, ev := range evs {
			_, h := payloadOf(t, ev)
			id := ev["data"].(map[string]any)["event"].(map[string]any)["replayId"].(float64)
			require.Greater(t, id, last, "replay ids ascend")
			last = id
			total++
			if h["changeType"] == "CREATE" {
				creates[h["recordIds"].([]any)[0].(string)]++
			}
		}
		if total >= writers*each+200 {
			break
		}
	}
	assert.Equal(t, writers*each+200, total, "one event per change")
	for id := range ids {
		assert.Equal(t, 1, creates[id], id)
	}
}

// Change events caused by record changes reach Pub/Sub subscribers as they reach CometD ones, for objects whose
// fields differ from the generated Account's.
func TestPubSubServesRecordChanges(t *testing.T) {
	for _, object := range []string{"Contact", "Opportunity"} {
		t.Run(object, func(t *testing.T) {
			e := startPubSubEmu(t, Config{Records: []ObjectCount{{Object: object, Count: 5}}}, false)
			channel := "/data/" + object + "ChangeEvent"
			var out MutateResponse
			e.control(http.MethodPost, "/emulator/mutate", `{"object":"`+object+`","count":20}`, &out)
			ctx := e.ctx(t)
			stream, err := e.client.Subscribe(ctx)
			require.NoError(t, err)
			require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: channel, ReplayPreset: eventbusv1.ReplayPreset_EARLIEST, NumRequested: 20}))
			resps := recvN(t, stream, 20)
			comet := e.cometdPayloads(t, channel, 20)
			i := 0
			for _, r := range resps {
				for _, ev := range r.GetEvents() {
					got, err := pubsub.DecodePayload(e.schema(t, ctx, ev.GetEvent().GetSchemaId()), ev.GetEvent().GetPayload())
					require.NoError(t, err)
					assert.Equal(t, normalised(t, comet[i]), normalised(t, got), "event %d", i)
					i++
				}
			}
			assert.Equal(t, 20, i)
		})
	}
}

// Pub/Sub serves only defined topics, names being case-sensitive, with Salesforce's NOT_FOUND text.
func TestPubSubTopicsExistOnlyWhenDefined(t *testing.T) {
	e := servePubSub(t, startStrictEmu(t, Config{Preload: []ChannelCount{{Channel: "/event/Order__e"}}}, false))
	ctx := e.ctx(t)
	notFound := func(topic string) {
		t.Helper()
		_, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: topic})
		assert.Equal(t, codes.NotFound, status.Code(err), "GetTopic %s: %v", topic, err)
		assert.Contains(t, status.Convert(err).Message(), "The topic information for org CORE/prod/"+DefaultOrgID+" and topic "+topic+" not found. Ensure the topic name is correct and that the topic exists.")
		stream, err := e.client.Subscribe(ctx)
		require.NoError(t, err)
		require.NoError(t, stream.Send(&eventbusv1.FetchRequest{TopicName: topic, NumRequested: 1}))
		_, err = stream.Recv()
		assert.Equal(t, codes.NotFound, status.Code(err), "Subscribe %s: %v", topic, err)
	}
	for _, topic := range []string{"/event/order__e", "/event/NoSuchEvent__e", "/data/Garbage", "/data/AccountChangeEvent"} {
		notFound(topic)
	}
	_, err := e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/event/Order__e"})
	require.NoError(t, err)
	e.control(http.MethodPost, "/emulator/cdc", `{"entities":["Account"]}`, nil)
	_, err = e.client.GetTopic(ctx, &eventbusv1.TopicRequest{TopicName: "/data/AccountChangeEvent"})
	require.NoError(t, err, "selected for Change Data Capture")
}

// An unknown topic's NOT_FOUND carries the rpc-id trailer and no error-code trailer: Salesforce documents no custom
// code for it and no capture shows one (docs/emulator.md, "Channels exist only when defined").
func TestPubSubNotFoundHasNoErrorCode(t *testing.T) {
	e := servePubSub(t, startStrictEmu(t, Config{}, false))
	var trailer metadata.MD
	_, err := e.client.GetTopic(e.ctx(t), &eventbusv1.TopicRequest{TopicName: "/event/NoSuchEvent__e"}, grpc.Trailer(&trailer))
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	assert.Regexp(t, `^The topic information for org CORE/prod/`+DefaultOrgID+` and topic /event/NoSuchEvent__e not found\. `+
		`Ensure the topic name is correct and that the topic exists\. rpcId: [0-9a-f-]{36}$`, status.Convert(err).Message())
	assert.Len(t, trailer.Get("rpc-id"), 1)
	assert.Empty(t, trailer.Get("error-code"))
}
