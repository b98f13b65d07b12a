package sfemu

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signJWT builds an RS256 assertion by hand (no JWT library: the emulator is checked on its own).
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256"}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	require.NoError(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestOAuthGrants(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	e := startEmu(t, Config{JWTPublicKey: &key.PublicKey, SecurityToken: "TOK"}, true)
	generic := startEmu(t, Config{GenericLoginHost: true}, true)
	now := epoch.Unix()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": DefaultClientID, "sub": DefaultUsername, "aud": "https://login.salesforce.com", "exp": now + 180}
		if mod != nil {
			mod(c)
		}
		return c
	}
	jwtForm := func(k *rsa.PrivateKey, mod func(map[string]any)) url.Values {
		return url.Values{"grant_type": {jwtBearerGrant}, "assertion": {signJWT(t, k, claims(mod))}}
	}
	ok := map[string]string{}
	cases := []struct {
		name   string
		emu    *testEmu
		form   url.Values
		basic  bool
		err    string // "" for success: "error: description"
		scoped bool
	}{
		{"password", e, url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {DefaultPassword + "TOK"}}, false, "", false},
		{"password without security token", e, url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {DefaultPassword}}, false, "invalid_grant: authentication failure", false},
		{"password wrong user", e, url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "username": {"x@example.com"}, "password": {DefaultPassword + "TOK"}}, false, "invalid_grant: authentication failure", false},
		{"password wrong client id", e, url.Values{"grant_type": {"password"}, "client_id": {"nope"}, "client_secret": {DefaultClientSecret}, "username": {DefaultUsername}, "password": {DefaultPassword + "TOK"}}, false, "invalid_client_id: client identifier invalid", false},
		{"password wrong secret", e, url.Values{"grant_type": {"password"}, "client_id": {DefaultClientID}, "client_secret": {"nope"}, "username": {DefaultUsername}, "password": {DefaultPassword + "TOK"}}, false, "invalid_client: invalid client credentials", false},
		{"client_credentials", e, url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}, false, "", true},
		{"client_credentials basic auth", e, url.Values{"grant_type": {"client_credentials"}}, true, "", true},
		{"client_credentials wrong secret", e, url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {"x"}}, false, "invalid_client: invalid client credentials", false},
		{"client_credentials on login host", generic, url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}, false, "invalid_grant: request not supported on this domain", false},
		{"refresh_token", e, url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "refresh_token": {DefaultRefreshToken}}, false, "", true},
		{"refresh_token without secret", e, url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {DefaultRefreshToken}}, false, "", true},
		{"refresh_token revoked", e, url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {"old"}}, false, "invalid_grant: expired access/refresh token", false},
		{"jwt", e, jwtForm(key, nil), false, "", true},
		{"jwt prn wins over sub", e, jwtForm(key, func(c map[string]any) { c["sub"] = "x"; c["prn"] = DefaultUsername }), false, "", true},
		{"jwt test host audience", e, jwtForm(key, func(c map[string]any) { c["aud"] = "https://test.salesforce.com" }), false, "", true},
		{"jwt own url audience", e, jwtForm(key, func(c map[string]any) { c["aud"] = e.url }), false, "", true},
		{"jwt other key", e, jwtForm(otherKey, nil), false, "invalid_grant: invalid assertion", false},
		{"jwt wrong issuer", e, jwtForm(key, func(c map[string]any) { c["iss"] = "x" }), false, "invalid_client_id: client identifier invalid", false},
		{"jwt wrong subject", e, jwtForm(key, func(c map[string]any) { c["sub"] = "x" }), false, "invalid_grant: user hasn't approved this consumer", false},
		{"jwt wrong audience", e, jwtForm(key, func(c map[string]any) { c["aud"] = "https://evil.example.com" }), false, "invalid_grant: audience is invalid", false},
		{"jwt expired", e, jwtForm(key, func(c map[string]any) { c["exp"] = now - 1 }), false, "invalid_grant: expired authorization code", false},
		{"jwt garbage", e, url.Values{"grant_type": {jwtBearerGrant}, "assertion": {"a.b.c"}}, false, "invalid_grant: invalid assertion", false},
		{"jwt no key configured", generic, jwtForm(key, nil), false, "invalid_grant: invalid assertion", false},
		{"unknown grant", e, url.Values{"grant_type": {"authorization_code"}}, false, "unsupported_grant_type: grant type not supported", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tc.emu.url+"/services/oauth2/token", strings.NewReader(tc.form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic {
				req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
			}
			resp := tc.emu.do(req, nil)
			assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
			assert.Equal(t, "application/json;charset=UTF-8", resp.header.Get("Content-Type"))
			if tc.err != "" {
				assert.Equal(t, http.StatusBadRequest, resp.status)
				code, desc, _ := strings.Cut(tc.err, ": ")
				assert.JSONEq(t, `{"error":"`+code+`","error_description":"`+desc+`"}`, string(resp.body))
				return
			}
			require.Equal(t, http.StatusOK, resp.status, resp.String())
			var tok map[string]string
			require.NoError(t, json.Unmarshal(resp.body, &tok))
			assert.Regexp(t, `^00D[0-9A-Za-z]{12}![0-9A-Za-z]{96}$`, tok["access_token"])
			assert.Equal(t, tc.emu.url, tok["instance_url"])
			assert.Equal(t, tc.emu.url+"/id/"+DefaultOrgID+"/"+DefaultUserID, tok["id"])
			assert.Equal(t, "Bearer", tok["token_type"])
			assert.Equal(t, "1772366400000", tok["issued_at"], "ms since epoch of the fake clock, as a string")
			assert.NotContains(t, tok, "refresh_token")
			if tc.scoped {
				assert.Equal(t, "api", tok["scope"])
			} else {
				assert.NotContains(t, tok, "scope")
			}
			if strings.HasPrefix(tc.name, "jwt") {
				assert.NotContains(t, tok, "signature")
			} else {
				mac := hmac.New(sha256.New, []byte(DefaultClientSecret))
				mac.Write([]byte(tok["id"] + tok["issued_at"]))
				assert.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), tok["signature"])
			}
			ok[tc.name] = tok["access_token"]
		})
	}
	// Every issued token opens a CometD session.
	for name, tok := range ok {
		c := e.newClient()
		c.auth = "Bearer " + tok
		resp := c.send(c.handshakeMsg())
		assert.Contains(t, string(resp.body), `"successful":true`, name)
	}
	assert.EqualValues(t, len(ok), e.state().Counters["token_grants"])
}

func TestOAuthQueryParamsAndMethod(t *testing.T) {
	e := startEmu(t, Config{}, true)
	resp := e.postForm("/services/oauth2/token?grant_type=client_credentials&client_id="+DefaultClientID+"&client_secret="+DefaultClientSecret, nil)
	assert.Equal(t, http.StatusOK, resp.status, resp.String())
	get := e.do(mustGet(t, e.url+"/services/oauth2/token"), nil)
	assert.Equal(t, http.StatusBadRequest, get.status)
	assert.Contains(t, string(get.body), `"error":"invalid_request"`)
}

func TestParseRSAPublicKeyPEM(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	for typ, der := range map[string][]byte{"PUBLIC KEY": pkix, "RSA PUBLIC KEY": x509.MarshalPKCS1PublicKey(&key.PublicKey), "CERTIFICATE": certDER} {
		got, err := ParseRSAPublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
		require.NoError(t, err, typ)
		assert.True(t, got.Equal(&key.PublicKey), typ)
	}
	_, err = ParseRSAPublicKeyPEM([]byte("nope"))
	assert.Error(t, err)
	_, err = ParseRSAPublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))
	assert.Error(t, err)
}

func bigOne() *big.Int { return big.NewInt(1) }

// jwtBearerGrant is the grant_type of the JWT bearer flow (RFC 7523).
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
