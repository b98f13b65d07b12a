package sfauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewSourceValidation(t *testing.T) {
	key := pkcs1PEM(t)
	const org = "https://acme.my.salesforce.com"
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; none means valid
	}{
		{"client_credentials ok", Config{OrgURL: org, GrantType: GrantClientCredentials, ClientID: "id", ClientSecret: "s"}, nil},
		{"client_credentials without secret", Config{OrgURL: org, GrantType: GrantClientCredentials, ClientID: "id"},
			[]string{"auth.client_secret is required for grant_type client_credentials"}},
		{"client_credentials without anything", Config{OrgURL: org, GrantType: GrantClientCredentials},
			[]string{"auth.client_id is required for grant_type client_credentials", "auth.client_secret is required for grant_type client_credentials"}},
		{"blank secret counts as missing", Config{OrgURL: org, GrantType: GrantClientCredentials, ClientID: "id", ClientSecret: "  "},
			[]string{"auth.client_secret is required"}},
		{"jwt ok", Config{OrgURL: org, GrantType: GrantJWTBearer, ClientID: "id", Username: "u@x", PrivateKeyPEM: key}, nil},
		{"jwt without key", Config{OrgURL: org, GrantType: GrantJWTBearer, ClientID: "id", Username: "u@x"},
			[]string{"auth.private_key_file (or auth.private_key) is required for grant_type jwt_bearer"}},
		{"jwt without username", Config{OrgURL: org, GrantType: GrantJWTBearer, ClientID: "id", PrivateKeyPEM: key},
			[]string{"auth.username is required for grant_type jwt_bearer"}},
		{"jwt with bad PEM", Config{OrgURL: org, GrantType: GrantJWTBearer, ClientID: "id", Username: "u", PrivateKeyPEM: []byte("not a key")},
			[]string{"reading auth.private_key: no PEM data found"}},
		{"refresh ok without secret", Config{OrgURL: org, GrantType: GrantRefreshToken, ClientID: "id", RefreshToken: "r"}, nil},
		{"refresh without token", Config{OrgURL: org, GrantType: GrantRefreshToken, ClientID: "id"},
			[]string{"auth.refresh_token is required for grant_type refresh_token"}},
		{"password ok", Config{OrgURL: org, GrantType: GrantPassword, ClientID: "id", ClientSecret: "s", Username: "u", Password: "p"}, nil},
		{"password without password", Config{OrgURL: org, GrantType: GrantPassword, ClientID: "id", ClientSecret: "s", Username: "u"},
			[]string{"auth.password is required for grant_type password"}},
		{"password without username", Config{OrgURL: org, GrantType: GrantPassword, ClientID: "id", ClientSecret: "s", Password: "p"},
			[]string{"auth.username is required for grant_type password"}},
		{"no grant", Config{OrgURL: org}, []string{"auth.grant_type is required (one of client_credentials, jwt_bearer, refresh_token, password)"}},
		{"unknown grant", Config{OrgURL: org, GrantType: "authorization_code"}, []string{`auth.grant_type "authorization_code" is not supported`}},
		{"no org_url", Config{GrantType: GrantRefreshToken, ClientID: "id", RefreshToken: "r"}, []string{"org_url is required"}},
		{"org_url without scheme", Config{OrgURL: "acme.my.salesforce.com", GrantType: GrantRefreshToken, ClientID: "id", RefreshToken: "r"},
			[]string{"org_url must start with https://"}},
		{"org_url with credentials", Config{OrgURL: "https://me:pw@acme.my.salesforce.com", GrantType: GrantRefreshToken, ClientID: "id", RefreshToken: "r"},
			[]string{"org_url must not contain a user name or password"}},
		{"org_url with query", Config{OrgURL: org + "?x=1", GrantType: GrantRefreshToken, ClientID: "id", RefreshToken: "r"},
			[]string{"org_url must not contain a query"}},
		{"org_url unparseable", Config{OrgURL: "https://acme.my.salesforce.com:port", GrantType: GrantRefreshToken, ClientID: "id", RefreshToken: "r"},
			[]string{"org_url is not a valid URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSource(tt.cfg)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.NotNil(t, s)
				return
			}
			require.Error(t, err)
			assert.Nil(t, s)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestTokenURL(t *testing.T) {
	tests := []struct{ orgURL, want string }{
		{"https://acme.my.salesforce.com", "https://acme.my.salesforce.com/services/oauth2/token"},
		{"https://acme.my.salesforce.com/", "https://acme.my.salesforce.com/services/oauth2/token"},
		{" https://acme.my.site.com/partners/ ", "https://acme.my.site.com/partners/services/oauth2/token"},
		{"http://127.0.0.1:7357", "http://127.0.0.1:7357/services/oauth2/token"},
	}
	for _, tt := range tests {
		t.Run(tt.orgURL, func(t *testing.T) {
			s := newTestSource(t, clientCredentials(tt.orgURL))
			assert.Equal(t, tt.want, s.tokenURL)
		})
	}
}

func TestAudienceFor(t *testing.T) {
	tests := []struct{ orgURL, want string }{
		{"https://login.salesforce.com", "https://login.salesforce.com"},
		{"https://acme.my.salesforce.com", "https://login.salesforce.com"},
		{"https://ACME.My.Salesforce.com", "https://login.salesforce.com"},
		{"https://acme.develop.my.salesforce.com", "https://login.salesforce.com"},
		{"https://na123.salesforce.com", "https://login.salesforce.com"},
		{"https://test.salesforce.com", "https://test.salesforce.com"},
		{"https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"},
		{"https://acme--uat.my.salesforce.com", "https://test.salesforce.com"},
		{"https://fun-1234.scratch.my.salesforce.com", "https://test.salesforce.com"},
		{"https://acme.my.site.com/partners", "https://acme.my.site.com/partners"},
		{"https://support.acme.com", "https://support.acme.com"},
		{"http://127.0.0.1:7357", "http://127.0.0.1:7357"},
		// Look-alike hosts are not Salesforce's.
		{"https://salesforce.com.evil.example", "https://salesforce.com.evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.orgURL, func(t *testing.T) {
			assert.Equal(t, tt.want, audienceFor(tt.orgURL))
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	certOnly := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})

	tests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"PKCS#1", pkcs1PEM(t), ""},
		{"PKCS#8", pkcs8PEM(t), ""},
		{"certificate before key", append(append([]byte{}, certOnly...), pkcs8PEM(t)...), ""},
		{"leading text", append([]byte("Bag Attributes\n"), pkcs1PEM(t)...), ""},
		{"empty", nil, "no PEM data found"},
		{"garbage", []byte("-----BEGIN NOTHING"), "no PEM data found"},
		{"certificate only", certOnly, `found only ["CERTIFICATE"] blocks`},
		{"public key", publicKeyPEM(t), `found only ["PUBLIC KEY"] blocks`},
		{"ECDSA", ecPEM, "ECDSA key; Salesforce's JWT bearer flow needs an RSA key"},
		{"PKCS#8 encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "is encrypted"},
		{"legacy encrypted", legacyEncrypted, "is encrypted"},
		{"corrupt PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")}), "parsing PKCS#1 RSA private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := parsePrivateKey(tt.pem)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.True(t, key.Equal(rsaKey(t)))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.False(t, strings.Contains(err.Error(), "MII"), "error must not quote key material")
		})
	}
}
