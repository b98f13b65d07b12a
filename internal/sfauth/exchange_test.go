package sfauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestFormPerGrant(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(url string) Config
		wantForm url.Values // exact, except assertion which is only checked for presence
	}{
		{"client_credentials", clientCredentials, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {testClientSecret}}},
		{"refresh_token with secret", func(u string) Config {
			return Config{OrgURL: u, GrantType: GrantRefreshToken, ClientID: "cid", ClientSecret: testClientSecret, RefreshToken: testRefreshToken}
		}, url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "client_secret": {testClientSecret}, "refresh_token": {testRefreshToken}}},
		{"refresh_token without secret", func(u string) Config {
			return Config{OrgURL: u, GrantType: GrantRefreshToken, ClientID: "cid", RefreshToken: testRefreshToken}
		}, url.Values{"grant_type": {"refresh_token"}, "client_id": {"cid"}, "refresh_token": {testRefreshToken}}},
		{"password", func(u string) Config {
			return Config{OrgURL: u, GrantType: GrantPassword, ClientID: "cid", ClientSecret: testClientSecret, Username: "u@x.com", Password: testPassword}
		}, url.Values{"grant_type": {"password"}, "client_id": {"cid"}, "client_secret": {testClientSecret}, "username": {"u@x.com"}, "password": {testPassword}}},
		{"jwt_bearer sends no secret", func(u string) Config {
			return Config{OrgURL: u, GrantType: GrantJWTBearer, ClientID: "cid", ClientSecret: testClientSecret, Username: "u@x.com", PrivateKeyPEM: pkcs1PEM(t)}
		}, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"<jwt>"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newFakeEndpoint(t, numberedToken)
			s := newTestSource(t, tt.cfg(ep.srv.URL))
			_, err := s.Token(t.Context())
			require.NoError(t, err)

			req := ep.lastRequest()
			assert.Equal(t, http.MethodPost, req.Method)
			assert.Equal(t, "/services/oauth2/token", req.Path)
			assert.Equal(t, "application/x-www-form-urlencoded", req.ContentType)
			assert.Equal(t, "application/json", req.Accept)
			if _, ok := tt.wantForm["assertion"]; ok {
				assert.Equal(t, 3, len(strings.Split(req.Form.Get("assertion"), ".")), "assertion is a compact JWT")
				req.Form.Set("assertion", "<jwt>")
			}
			assert.Equal(t, tt.wantForm, req.Form)
		})
	}
}

func TestSignature(t *testing.T) {
	// Vector computed independently:
	// printf %s "$id$issued_at" | openssl dgst -sha256 -hmac secret123 -binary | base64
	const (
		id       = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P"
		issuedAt = "1296509381665"
		want     = "2zCM7Erh0n99RovY5YWwG+MNpQmpAcprvIuj/+5OCqo="
	)
	assert.Equal(t, want, computeSignature("secret123", id, issuedAt))

	tests := []struct {
		name, secret, id, issuedAt, sig string
		valid                           bool
	}{
		{"matches", "secret123", id, issuedAt, want, true},
		{"other secret", "secret124", id, issuedAt, want, false},
		{"other issued_at", "secret123", id, "1296509381666", want, false},
		{"other id", "secret123", id + "X", issuedAt, want, false},
		{"not base64", "secret123", id, issuedAt, "%%%", false},
		{"truncated", "secret123", id, issuedAt, want[:20], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.valid, validSignature(tt.secret, tt.id, tt.issuedAt, tt.sig))
		})
	}
}

func TestTokenResponses(t *testing.T) {
	const id, issuedAt = "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA", "1700000000000"
	goodSig := computeSignature(testClientSecret, id, issuedAt)
	success := func(extra map[string]string) map[string]string {
		body := map[string]string{"access_token": testAccessToken, "instance_url": "https://acme.my.salesforce.com/",
			"id": id, "token_type": "Bearer", "issued_at": issuedAt, "scope": "api cdp_query_api"}
		for k, v := range extra {
			if v == "" {
				delete(body, k)
			} else {
				body[k] = v
			}
		}
		return body
	}
	jsonAnswer := func(status int, body any) func(http.ResponseWriter, int) {
		return func(w http.ResponseWriter, _ int) { writeJSON(w, status, body) }
	}
	rawAnswer := func(status int, contentType, body string) func(http.ResponseWriter, int) {
		return func(w http.ResponseWriter, _ int) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}

	tests := []struct {
		name      string
		respond   func(http.ResponseWriter, int)
		wantToken Token
		// For failures: the *Error expected (nil when the error is not an *Error),
		// substrings of the message, and the permanence verdict.
		wantErr       *Error
		wantMsg       []string
		wantPermanent bool
	}{
		{name: "success with signature", respond: jsonAnswer(200, success(map[string]string{"signature": goodSig})),
			wantToken: Token{AccessToken: testAccessToken, InstanceURL: "https://acme.my.salesforce.com", ID: id, IssuedAt: issuedAt, Scope: "api cdp_query_api"}},
		{name: "success without signature (JWT answers have none)", respond: jsonAnswer(200, success(nil)),
			wantToken: Token{AccessToken: testAccessToken, InstanceURL: "https://acme.my.salesforce.com", ID: id, IssuedAt: issuedAt, Scope: "api cdp_query_api"}},
		{name: "signature mismatch", respond: jsonAnswer(200, success(map[string]string{"signature": computeSignature("other", id, issuedAt)})),
			wantMsg: []string{"token response signature does not match"}, wantPermanent: true},
		{name: "no access_token", respond: jsonAnswer(200, success(map[string]string{"access_token": ""})),
			wantMsg: []string{"invalid token response", "no access_token"}},
		{name: "no instance_url", respond: jsonAnswer(200, success(map[string]string{"instance_url": ""})),
			wantMsg: []string{"no instance_url"}},
		{name: "relative instance_url", respond: jsonAnswer(200, success(map[string]string{"instance_url": "acme.my.salesforce.com"})),
			wantMsg: []string{"instance_url", "is not an absolute http(s) URL"}},
		{name: "200 with an HTML page", respond: rawAnswer(200, "text/html", "<html><body><h1>Sign in to the proxy</h1></body></html>"),
			wantMsg: []string{"HTTP 200 answer (text/html) is not JSON", "Sign in to the proxy"}},
		{name: "invalid_grant", respond: jsonAnswer(400, map[string]string{"error": "invalid_grant", "error_description": "authentication failure"}),
			wantErr: &Error{StatusCode: 400, Code: "invalid_grant", Description: "authentication failure"},
			wantMsg: []string{"invalid_grant: authentication failure"}, wantPermanent: true},
		{name: "invalid_client_id", respond: jsonAnswer(400, map[string]string{"error": "invalid_client_id", "error_description": "client identifier invalid"}),
			wantErr: &Error{StatusCode: 400, Code: "invalid_client_id", Description: "client identifier invalid"}, wantPermanent: true},
		{name: "invalid_client 401", respond: jsonAnswer(401, map[string]string{"error": "invalid_client", "error_description": "invalid client credentials"}),
			wantErr: &Error{StatusCode: 401, Code: "invalid_client", Description: "invalid client credentials"}, wantPermanent: true},
		{name: "unsupported_grant_type", respond: jsonAnswer(400, map[string]string{"error": "unsupported_grant_type", "error_description": "grant type not supported"}),
			wantErr: &Error{StatusCode: 400, Code: "unsupported_grant_type", Description: "grant type not supported"}, wantPermanent: true},
		{name: "rate_limit_exceeded is transient", respond: jsonAnswer(400, map[string]string{"error": "rate_limit_exceeded", "error_description": "rate limit exceeded"}),
			wantErr: &Error{StatusCode: 400, Code: "rate_limit_exceeded", Description: "rate limit exceeded"}},
		{name: "503 HTML page", respond: rawAnswer(503, "text/html", "<html><head><style>p{}</style><script>x()</script></head><body><p>Service\n\tUnavailable &amp; down</p></body></html>"),
			wantErr: &Error{StatusCode: 503, Description: "Service Unavailable & down"},
			wantMsg: []string{"token endpoint answered HTTP 503 Service Unavailable: Service Unavailable & down"}},
		{name: "404 wrong org_url is permanent", respond: rawAnswer(404, "text/plain", "not found"),
			wantErr: &Error{StatusCode: 404, Description: "not found"}, wantPermanent: true},
		{name: "429 plain is transient", respond: rawAnswer(429, "text/plain", ""),
			wantErr: &Error{StatusCode: 429}, wantMsg: []string{"token endpoint answered HTTP 429 Too Many Requests"}},
		{name: "long body is cut", respond: rawAnswer(502, "text/plain", strings.Repeat("x", 5000)),
			wantErr: &Error{StatusCode: 502, Description: strings.Repeat("x", 200) + "…"}},
		{name: "redirect is not followed", respond: func(w http.ResponseWriter, _ int) {
			http.Redirect(w, &http.Request{Method: http.MethodPost}, "https://acme.my.salesforce.com/services/oauth2/token?session=abc", http.StatusMovedPermanently)
		}, wantErr: &Error{StatusCode: 301, Description: "redirected to https://acme.my.salesforce.com/services/oauth2/token; set org_url to that host"},
			wantMsg: []string{"HTTP 301 Moved Permanently"}, wantPermanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newFakeEndpoint(t, tt.respond)
			s := newTestSource(t, clientCredentials(ep.srv.URL))
			tok, err := s.Token(t.Context())
			if tt.wantMsg == nil && tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.wantToken, tok)
				return
			}
			require.Error(t, err)
			assert.Equal(t, Token{}, tok)
			var e *Error
			if tt.wantErr != nil {
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tt.wantErr, e)
			} else {
				assert.False(t, errors.As(err, &e), "want no *Error, got %v", err)
			}
			for _, want := range tt.wantMsg {
				assert.Contains(t, err.Error(), want)
			}
			assert.Equal(t, tt.wantPermanent, IsPermanent(err))
			assert.Equal(t, 1, ep.requestCount())
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{StatusCode: 400, Code: "invalid_grant", Description: "authentication failure"}, "invalid_grant: authentication failure"},
		{Error{StatusCode: 400, Code: "inactive_user"}, "inactive_user"},
		{Error{StatusCode: 500, Description: "oops"}, "token endpoint answered HTTP 500 Internal Server Error: oops"},
		{Error{StatusCode: 502}, "token endpoint answered HTTP 502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) { assert.Equal(t, tt.want, tt.err.Error()) })
	}
}

func TestNetworkErrorIsTransient(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken)
	ep.srv.Close() // nothing listens any more
	s := newTestSource(t, clientCredentials(ep.srv.URL))
	_, err := s.Token(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "getting Salesforce token from "+ep.srv.URL+"/services/oauth2/token: sending token request:")
	assert.False(t, IsPermanent(err))
	assert.NotContains(t, err.Error(), testClientSecret)
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("dial tcp: connection refused"), false},
		{"invalid_grant", &Error{StatusCode: 400, Code: "invalid_grant"}, true},
		{"invalid_client", &Error{StatusCode: 400, Code: "invalid_client"}, true},
		{"invalid_client_id", &Error{StatusCode: 400, Code: "invalid_client_id"}, true},
		{"unsupported_grant_type", &Error{StatusCode: 400, Code: "unsupported_grant_type"}, true},
		{"inactive_user", &Error{StatusCode: 400, Code: "inactive_user"}, true},
		{"inactive_org", &Error{StatusCode: 400, Code: "inactive_org"}, true},
		{"invalid_app_access", &Error{StatusCode: 400, Code: "invalid_app_access"}, true},
		{"unknown 4xx code", &Error{StatusCode: 400, Code: "something_new"}, true},
		{"rate_limit_exceeded", &Error{StatusCode: 400, Code: "rate_limit_exceeded"}, false},
		{"server_error", &Error{StatusCode: 500, Code: "server_error"}, false},
		{"unknown 5xx code", &Error{StatusCode: 503, Code: "something_new"}, false},
		{"plain 500", &Error{StatusCode: 500}, false},
		{"plain 408", &Error{StatusCode: 408}, false},
		{"plain 403", &Error{StatusCode: 403}, true},
		{"wrapped invalid_grant", fmtWrap(&Error{StatusCode: 400, Code: "invalid_grant"}), true},
		{"signature mismatch", fmtWrap(ErrSignatureMismatch), true},
		{"invalid response", fmtWrap(ErrInvalidResponse), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, IsPermanent(tt.err)) })
	}
}

func fmtWrap(err error) error { return errors.Join(errors.New("context"), err) }
