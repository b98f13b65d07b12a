package sfemu

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	eventbusv1 "github.com/salesforce-streaming/salesforce_streaming/internal/pubsub/proto"
)

// Login bodies as clients send them: jsforce (default namespace), simple-salesforce (n1: prefix, a CallOptions
// header) and a urn: prefix.
func soapLoginBody(style, user, password string) string {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	switch style {
	case "jsforce":
		return `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>` +
			esc(user) + `</username><password>` + esc(password) + `</password></login></se:Body></se:Envelope>`
	case "simple-salesforce":
		return `<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><env:Header><urn:CallOptions><urn:client>RestForce</urn:client><urn:defaultNamespace>sf</urn:defaultNamespace></urn:CallOptions></env:Header><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>` +
			esc(user) + `</n1:username><n1:password>` + esc(password) + `</n1:password></n1:login></env:Body></env:Envelope>`
	default:
		return `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:login><urn:username>` +
			esc(user) + `</urn:username><urn:password>` + esc(password) + `</urn:password></urn:login></soapenv:Body></soapenv:Envelope>`
	}
}

func (e *testEmu) soap(path, contentType, body string) rawResp {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("SOAPAction", "login")
	return e.do(req, nil)
}

// loginResult is the part of a LoginResult the tests read, by local names.
type loginResult struct {
	Body struct {
		LoginResponse struct {
			Result struct {
				MetadataServerURL string `xml:"metadataServerUrl"`
				PasswordExpired   string `xml:"passwordExpired"`
				Sandbox           string `xml:"sandbox"`
				ServerURL         string `xml:"serverUrl"`
				SessionID         string `xml:"sessionId"`
				UserID            string `xml:"userId"`
				UserInfo          struct {
					OrganizationID      string `xml:"organizationId"`
					UserID              string `xml:"userId"`
					UserName            string `xml:"userName"`
					SessionSecondsValid int    `xml:"sessionSecondsValid"`
				} `xml:"userInfo"`
			} `xml:"result"`
		} `xml:"loginResponse"`
	} `xml:"Body"`
}

type soapFaultAnswer struct {
	Body struct {
		Fault struct {
			FaultCode   string `xml:"faultcode"`
			FaultString string `xml:"faultstring"`
			Detail      struct {
				Inner struct {
					XMLName          xml.Name
					ExceptionCode    string `xml:"exceptionCode"`
					ExceptionMessage string `xml:"exceptionMessage"`
				} `xml:",any"`
			} `xml:"detail"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

func TestSOAPLoginSuccess(t *testing.T) {
	e := startPubSubEmu(t, Config{SecurityToken: "TOK"}, false)
	org15 := DefaultOrgID[:15]
	for _, style := range []string{"jsforce", "simple-salesforce", "urn"} {
		t.Run(style, func(t *testing.T) {
			resp := e.soap("/services/Soap/u/64.0", "text/xml; charset=UTF-8", soapLoginBody(style, DefaultUsername, DefaultPassword+"TOK"))
			require.Equal(t, http.StatusOK, resp.status, resp.String())
			assert.Equal(t, "text/xml;charset=UTF-8", resp.header.Get("Content-Type"))
			body := string(resp.body)
			// Salesforce's answer: partner namespace as the default one, LoginResult children in alphabetical order.
			assert.True(t, strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>`), body)
			order := []string{"<metadataServerUrl>", "<passwordExpired>", "<sandbox>", "<serverUrl>", "<sessionId>", "<userId>", "<userInfo>"}
			last := -1
			for _, tag := range order {
				i := strings.Index(body, tag)
				require.Greater(t, i, last, "%s out of order in %s", tag, body)
				last = i
			}
			var lr loginResult
			require.NoError(t, xml.Unmarshal(resp.body, &lr))
			r := lr.Body.LoginResponse.Result
			assert.Equal(t, e.url+"/services/Soap/u/64.0/"+org15, r.ServerURL)
			assert.Equal(t, e.url+"/services/Soap/m/64.0/"+org15, r.MetadataServerURL)
			assert.Equal(t, "false", r.PasswordExpired)
			assert.Equal(t, DefaultUserID, r.UserID)
			assert.Equal(t, DefaultOrgID, r.UserInfo.OrganizationID)
			assert.Equal(t, DefaultUserID, r.UserInfo.UserID)
			assert.Equal(t, DefaultUsername, r.UserInfo.UserName)
			assert.Equal(t, 7200, r.UserInfo.SessionSecondsValid)
			require.True(t, strings.HasPrefix(r.SessionID, org15+"!"), r.SessionID)

			// The session id is a bearer token on every surface.
			req, err := http.NewRequest(http.MethodGet, e.url+"/services/data/v64.0/limits", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+r.SessionID)
			assert.Equal(t, http.StatusOK, e.do(req, nil).status, "REST with the session id")
			c := e.newClient()
			c.auth = "Bearer " + r.SessionID
			hs := c.handshake().messages(t)
			assert.Equal(t, true, hs[0]["successful"], "CometD handshake with the session id: %v", hs)
			info, err := e.client.GetTopic(e.ctxWith(t, r.SessionID), &eventbusv1.TopicRequest{TopicName: "/event/Order_Event__e"})
			require.NoError(t, err, "Pub/Sub GetTopic with the session id")
			assert.True(t, info.GetCanSubscribe())
		})
	}
	t.Run("enterprise", func(t *testing.T) {
		resp := e.soap("/services/Soap/c/60.0", "text/xml", soapLoginBody("jsforce", DefaultUsername, DefaultPassword+"TOK"))
		require.Equal(t, http.StatusOK, resp.status, resp.String())
		assert.Contains(t, string(resp.body), `xmlns="urn:enterprise.soap.sforce.com"`)
		var lr loginResult
		require.NoError(t, xml.Unmarshal(resp.body, &lr))
		assert.Equal(t, e.url+"/services/Soap/c/60.0/"+org15, lr.Body.LoginResponse.Result.ServerURL)
	})
}

func TestSOAPLoginFaults(t *testing.T) {
	e := startEmu(t, Config{SecurityToken: "TOK"}, false)
	good := soapLoginBody("jsforce", DefaultUsername, DefaultPassword+"TOK")
	cases := []struct {
		name, path, contentType, body string
		faultCode, faultString        string
		detail, code                  string // "" for no detail element
		faultNS                       string
	}{
		{"wrong password", "/services/Soap/u/64.0", "text/xml", soapLoginBody("jsforce", DefaultUsername, "nope"),
			"sf:INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, security token; or user locked out.", "LoginFault", "INVALID_LOGIN", "urn:fault.partner.soap.sforce.com"},
		{"password without security token", "/services/Soap/u/64.0", "text/xml", soapLoginBody("urn", DefaultUsername, DefaultPassword),
			"sf:INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, security token; or user locked out.", "LoginFault", "INVALID_LOGIN", "urn:fault.partner.soap.sforce.com"},
		{"wrong user on the enterprise API", "/services/Soap/c/64.0", "text/xml", soapLoginBody("simple-salesforce", "x@example.com", DefaultPassword+"TOK"),
			"sf:INVALID_LOGIN", "INVALID_LOGIN: Invalid username, password, security token; or user locked out.", "LoginFault", "INVALID_LOGIN", "urn:fault.enterprise.soap.sforce.com"},
		{"retired version", "/services/Soap/u/30.0", "text/xml", good,
			"sf:UNSUPPORTED_API_VERSION", "UNSUPPORTED_API_VERSION: Invalid Api version specified on URL", "UnexpectedErrorFault", "UNSUPPORTED_API_VERSION", "urn:fault.partner.soap.sforce.com"},
		{"login gone from 65.0", "/services/Soap/u/65.0", "text/xml", good,
			"sf:INVALID_OPERATION", "INVALID_OPERATION: The SOAP Login operation is not available in the API version specified (65.0). Refer to the documentation for supported versions.", "UnexpectedErrorFault", "INVALID_OPERATION", "urn:fault.partner.soap.sforce.com"},
		{"json content type", "/services/Soap/u/64.0", "application/json", good,
			"soapenv:Client", "content-type of the request should be text/xml", "", "", "urn:fault.partner.soap.sforce.com"},
		{"another operation", "/services/Soap/u/64.0", "text/xml", `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Body><describeGlobal xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>`,
			"soapenv:Client", "No operation available for request {urn:partner.soap.sforce.com}describeGlobal, please check the WSDL for the service.", "", "", "urn:fault.partner.soap.sforce.com"},
		{"malformed XML", "/services/Soap/u/64.0", "text/xml", `<se:Envelope`,
			"soapenv:Client", "Unable to parse the request: malformed XML", "", "", "urn:fault.partner.soap.sforce.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.soap(tc.path, tc.contentType, tc.body)
			require.Equal(t, http.StatusInternalServerError, resp.status, resp.String())
			assert.Equal(t, "text/xml;charset=UTF-8", resp.header.Get("Content-Type"))
			assert.Contains(t, string(resp.body), `xmlns:sf="`+tc.faultNS+`"`)
			var f soapFaultAnswer
			require.NoError(t, xml.Unmarshal(resp.body, &f), string(resp.body))
			assert.Equal(t, tc.faultCode, f.Body.Fault.FaultCode)
			assert.Equal(t, tc.faultString, f.Body.Fault.FaultString)
			assert.Equal(t, tc.detail, f.Body.Fault.Detail.Inner.XMLName.Local)
			assert.Equal(t, tc.code, f.Body.Fault.Detail.Inner.ExceptionCode)
			assert.NotContains(t, string(resp.body), DefaultPassword, "the fault echoes no secret")
		})
	}
	// The INVALID_LOGIN answer byte for byte: Salesforce's envelope (docs/emulator.md), partner namespace.
	resp := e.soap("/services/Soap/u/64.0", "text/xml", soapLoginBody("jsforce", DefaultUsername, "nope"))
	assert.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`, string(resp.body))

	get, err := http.NewRequest(http.MethodGet, e.url+"/services/Soap/u/64.0", nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusMethodNotAllowed, e.do(get, nil).status)
}
