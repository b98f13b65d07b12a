package oauth

import (
	"bytes"
	"encoding/xml"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// SOAP login(): POST /services/Soap/u/{version} (partner API) or /services/Soap/c/{version} (enterprise API).
// jsforce's login(username, password) and the npm Pub/Sub client's username-password mode use it. The session id
// it returns is an access token like any other: REST, CometD and Pub/Sub accept it (docs/emulator.md, "SOAP
// login").

// SOAP login versions: Salesforce retired 21.0-30.0 (UNSUPPORTED_API_VERSION) and has no login() from 65.0 on.
const (
	soapLoginOldest   = 31
	soapLoginLastPlus = 65 // the first version without login()
)

// soapFault is one fault answer: faultcode (already prefixed), the fault type in the detail, and the
// exceptionCode/exceptionMessage pair clients read.
type soapFault struct {
	faultCode string // e.g. "sf:INVALID_LOGIN", or "soapenv:Client" for a request the server cannot read
	faultType string // e.g. "LoginFault"; empty: no detail element
	code      string
	message   string
}

var (
	faultInvalidLogin = soapFault{"sf:INVALID_LOGIN", "LoginFault", "INVALID_LOGIN",
		"Invalid username, password, security token; or user locked out."}
	faultContentType = soapFault{faultCode: "soapenv:Client", message: "content-type of the request should be text/xml"}
)

// soapAPI is the flavour a path names: the namespace of its answers and the letter of its URLs.
type soapAPI struct {
	letter    string // "u" partner, "c" enterprise
	namespace string // urn:partner.soap.sforce.com
	faultNS   string // urn:fault.partner.soap.sforce.com
}

var (
	soapPartner    = soapAPI{"u", "urn:partner.soap.sforce.com", "urn:fault.partner.soap.sforce.com"}
	soapEnterprise = soapAPI{"c", "urn:enterprise.soap.sforce.com", "urn:fault.enterprise.soap.sforce.com"}
)

// soapLoginRequest matches any namespace prefix: encoding/xml compares local names when the tag names no space.
type soapLoginRequest struct {
	Body struct {
		Login *struct {
			Username string `xml:"username"`
			Password string `xml:"password"`
		} `xml:"login"`
		Inner []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"Body"`
}

// ServeSOAP answers /services/Soap/{u|c}/{version}[/{orgId}]: the login() call; any other operation gets the
// fault Salesforce gives for an operation the WSDL lacks.
func (s *Handler) ServeSOAP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/services/Soap/"), "/"), "/")
	var api soapAPI
	switch {
	case len(parts) >= 2 && parts[0] == "u":
		api = soapPartner
	case len(parts) >= 2 && parts[0] == "c":
		api = soapEnterprise
	default:
		sfhttp.WriteJSONError(w, http.StatusNotFound, "not found: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		sfhttp.MethodNotAllowed(w, r, http.MethodPost)
		return
	}
	major, minor, _ := strings.Cut(parts[1], ".")
	version, err := strconv.Atoi(major)
	if err != nil || minor != "0" || version < soapLoginOldest || version > sfhttp.LatestAPIMajor {
		writeSOAPFault(w, api, soapFault{"sf:UNSUPPORTED_API_VERSION", "UnexpectedErrorFault", "UNSUPPORTED_API_VERSION",
			"Invalid Api version specified on URL"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/xml" {
		writeSOAPFault(w, api, faultContentType)
		return
	}
	body, err := sfhttp.ReadLimited(r.Body, 1<<20)
	if err != nil {
		writeSOAPFault(w, api, soapFault{faultCode: "soapenv:Client", message: "request body above 1 MB"})
		return
	}
	var req soapLoginRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		writeSOAPFault(w, api, soapFault{faultCode: "soapenv:Client", message: "Unable to parse the request: malformed XML"})
		return
	}
	if req.Body.Login == nil {
		op := "(none)"
		if len(req.Body.Inner) > 0 {
			op = "{" + req.Body.Inner[0].XMLName.Space + "}" + req.Body.Inner[0].XMLName.Local
		}
		writeSOAPFault(w, api, soapFault{faultCode: "soapenv:Client",
			message: "No operation available for request " + op + ", please check the WSDL for the service."})
		return
	}
	if version >= soapLoginLastPlus {
		writeSOAPFault(w, api, soapFault{"sf:INVALID_OPERATION", "UnexpectedErrorFault", "INVALID_OPERATION",
			"The SOAP Login operation is not available in the API version specified (" + parts[1] +
				"). Refer to the documentation for supported versions."})
		return
	}
	cfg := &s.cfg
	if !secretEqual(req.Body.Login.Username, cfg.Username) || !secretEqual(req.Body.Login.Password, cfg.Password+cfg.SecurityToken) {
		s.tokens.Refused()
		s.logf("soap login: INVALID_LOGIN")
		writeSOAPFault(w, api, faultInvalidLogin)
		return
	}
	token := s.tokens.Issue()
	writeSOAP(w, http.StatusOK, s.loginResponse(api, sfhttp.BaseURL(s.cfg.InstanceURL, r), parts[1], token))
}

// loginResponse is the LoginResult: children in alphabetical order, userInfo in the order of Salesforce's answers.
func (s *Handler) loginResponse(api soapAPI, base, version, token string) []byte {
	cfg := &s.cfg
	org15 := cfg.OrgID[:15]
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="`)
	b.WriteString(api.namespace)
	b.WriteString(`" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>`)
	el := func(name, value string) {
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">")
	}
	el("metadataServerUrl", base+"/services/Soap/m/"+version+"/"+org15)
	el("passwordExpired", "false")
	el("sandbox", "false")
	el("serverUrl", base+"/services/Soap/"+api.letter+"/"+version+"/"+org15)
	el("sessionId", token)
	el("userId", cfg.UserID)
	b.WriteString("<userInfo>")
	el("accessibilityMode", "false")
	el("chatterExternal", "false")
	el("currencySymbol", "$")
	el("orgAttachmentFileSizeLimit", "5242880")
	el("orgDefaultCurrencyIsoCode", "USD")
	el("orgDefaultCurrencyLocale", "en_US")
	el("orgDisallowHtmlAttachments", "false")
	el("orgHasPersonAccounts", "false")
	el("organizationId", cfg.OrgID)
	el("organizationMultiCurrency", "false")
	el("organizationName", "sfemu")
	el("profileId", "00e5e000000SfEmAAC")
	b.WriteString(`<roleId xsi:nil="true"/>`)
	el("sessionSecondsValid", "7200")
	b.WriteString(`<userDefaultCurrencyIsoCode xsi:nil="true"/>`)
	el("userEmail", cfg.Username)
	el("userFullName", "Emulated User")
	el("userId", cfg.UserID)
	el("userLanguage", "en_US")
	el("userLocale", "en_US")
	el("userName", cfg.Username)
	el("userTimeZone", "America/Los_Angeles")
	el("userType", "Standard")
	el("userUiSkin", "Theme3")
	b.WriteString("</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>")
	return b.Bytes()
}

// writeSOAPFault answers HTTP 500 with Salesforce's fault envelope.
func writeSOAPFault(w http.ResponseWriter, api soapAPI, f soapFault) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="`)
	b.WriteString(api.faultNS)
	b.WriteString(`" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>`)
	b.WriteString(f.faultCode)
	b.WriteString("</faultcode><faultstring>")
	text := f.message
	if f.code != "" {
		text = f.code + ": " + f.message
	}
	_ = xml.EscapeText(&b, []byte(text))
	b.WriteString("</faultstring>")
	if f.faultType != "" {
		b.WriteString(`<detail><sf:` + f.faultType + ` xsi:type="sf:` + f.faultType + `"><sf:exceptionCode>` + f.code + `</sf:exceptionCode><sf:exceptionMessage>`)
		_ = xml.EscapeText(&b, []byte(f.message))
		b.WriteString(`</sf:exceptionMessage></sf:` + f.faultType + `></detail>`)
	}
	b.WriteString("</soapenv:Fault></soapenv:Body></soapenv:Envelope>")
	writeSOAP(w, http.StatusInternalServerError, b.Bytes())
}

func writeSOAP(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
