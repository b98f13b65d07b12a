package sfauth

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fmtVerbs are the ways a value typically reaches a log line.
var fmtVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"}

// assertNoSecrets fails if out contains any secret of these tests.
func assertNoSecrets(t *testing.T, out string, extra ...string) {
	t.Helper()
	for _, secret := range append([]string{testClientSecret, testPassword, testRefreshToken, testAccessToken, "PRIVATE KEY", "MII"}, extra...) {
		assert.NotContains(t, out, secret)
	}
}

func TestRedaction(t *testing.T) {
	cfg := Config{OrgURL: "https://acme.my.salesforce.com", GrantType: GrantPassword, ClientID: "cid",
		ClientSecret: testClientSecret, Username: "u@acme.com", Password: testPassword, RefreshToken: testRefreshToken,
		PrivateKeyPEM: pkcs1PEM(t), HTTPClient: &http.Client{}}
	tok := Token{AccessToken: testAccessToken, InstanceURL: "https://acme.my.salesforce.com", ID: "https://login.salesforce.com/id/x/y", IssuedAt: "1", Scope: "api"}
	src := newTestSource(t, cfg)
	src.tok, src.have = tok, true
	jwtSrc := newTestSource(t, Config{OrgURL: cfg.OrgURL, GrantType: GrantJWTBearer, ClientID: "cid", Username: "u", PrivateKeyPEM: pkcs8PEM(t)})

	values := map[string]any{
		"Config":     cfg,
		"*Config":    &cfg,
		"Token":      tok,
		"*Token":     &tok,
		"Source":     src,
		"jwt Source": jwtSrc,
		"struct of them": struct {
			C Config
			T Token
			S *Source
		}{cfg, tok, src},
		"slice of tokens": []Token{tok},
	}
	for name, v := range values {
		for _, verb := range fmtVerbs {
			t.Run(name+" "+verb, func(t *testing.T) {
				assertNoSecrets(t, fmt.Sprintf(verb, v))
			})
		}
	}

	// The redacted forms still say what is set, which is what a user debugging a config needs.
	assert.Equal(t, "{OrgURL:https://acme.my.salesforce.com GrantType:password ClientID:cid ClientSecret:[redacted] Username:u@acme.com Password:[redacted] RefreshToken:[redacted] PrivateKeyPEM:[redacted] Audience: HTTPClient:true}", cfg.String())
	assert.Equal(t, `sfauth.Token{AccessToken:"[redacted]", InstanceURL:"https://acme.my.salesforce.com", ID:"https://login.salesforce.com/id/x/y", IssuedAt:"1", Scope:"api"}`, fmt.Sprintf("%#v", tok))
	assert.Equal(t, "{AccessToken: InstanceURL: ID: IssuedAt: Scope:}", Token{}.String(), "an empty token shows no [redacted]")
	assert.Equal(t, "sfauth.Source{grant:password token_url:https://acme.my.salesforce.com/services/oauth2/token}", fmt.Sprint(src))
}

// Errors carry no secret even when the endpoint echoes the request back.
func TestErrorsCarryNoSecrets(t *testing.T) {
	echo := func(status int, contentType string) func(http.ResponseWriter, int) {
		return func(w http.ResponseWriter, _ int) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `<html><body>Request: client_secret=%s&password=%s&refresh_token=%s; token %s; session 00DABCDEFGHIJKLMNO!AQ.x-y_z</body></html>`,
				testClientSecret, testPassword, testRefreshToken, testAccessToken)
		}
	}
	tests := []struct {
		name    string
		respond func(http.ResponseWriter, int)
	}{
		{"5xx echo", echo(500, "text/html")},
		{"200 echo", echo(200, "text/html")},
		{"oauth error echo", func(w http.ResponseWriter, _ int) {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "bad password " + testPassword})
		}},
		{"partial token JSON", func(w http.ResponseWriter, _ int) {
			writeJSON(w, 200, map[string]string{"access_token": testAccessToken})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newFakeEndpoint(t, tt.respond)
			s := newTestSource(t, Config{OrgURL: ep.srv.URL, GrantType: GrantPassword, ClientID: "cid",
				ClientSecret: testClientSecret, Username: "u", Password: testPassword})
			_, err := s.Token(t.Context())
			require.Error(t, err)
			for _, verb := range fmtVerbs {
				assertNoSecrets(t, fmt.Sprintf(verb, err), "00DABCDEFGHIJKLMNO!")
			}
		})
	}
}
