package sfauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
)

// startEmulator serves sfemu with its default credentials, JWT verified with
// rsaKey, adjusted by tweak.
func startEmulator(t *testing.T, tweak func(*sfemu.Config)) *httptest.Server {
	t.Helper()
	cfg := sfemu.DefaultConfig()
	cfg.JWTPublicKey = &rsaKey(t).PublicKey
	if tweak != nil {
		tweak(&cfg)
	}
	emu := sfemu.New(cfg)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	return srv
}

// emulatorConfig is a valid config of grant for the emulator's defaults.
func emulatorConfig(t *testing.T, orgURL string, grant GrantType) Config {
	cfg := Config{OrgURL: orgURL, GrantType: grant, ClientID: sfemu.DefaultClientID}
	switch grant {
	case GrantClientCredentials:
		cfg.ClientSecret = sfemu.DefaultClientSecret
	case GrantJWTBearer:
		cfg.Username, cfg.PrivateKeyPEM = sfemu.DefaultUsername, pkcs8PEM(t)
	case GrantRefreshToken:
		cfg.ClientSecret, cfg.RefreshToken = sfemu.DefaultClientSecret, sfemu.DefaultRefreshToken
	case GrantPassword:
		cfg.ClientSecret, cfg.Username, cfg.Password = sfemu.DefaultClientSecret, sfemu.DefaultUsername, sfemu.DefaultPassword
	}
	return cfg
}

func otherKeyPEM(t *testing.T) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// Each grant succeeds with the emulator's defaults; where a client secret is
// configured the answer's signature is verified, so this also checks that our
// signature check agrees with the emulator's.
func TestGrantsAgainstEmulator(t *testing.T) {
	for _, grant := range validGrants {
		t.Run(string(grant), func(t *testing.T) {
			srv := startEmulator(t, nil)
			s := newTestSource(t, emulatorConfig(t, srv.URL, grant))

			tok, err := s.Token(t.Context())
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)
			assert.Equal(t, srv.URL, tok.InstanceURL)
			assert.Contains(t, tok.ID, "/id/"+sfemu.DefaultOrgID+"/")
			assert.NotEmpty(t, tok.IssuedAt)

			next, err := s.Refresh(t.Context(), tok)
			require.NoError(t, err)
			assert.NotEqual(t, tok.AccessToken, next.AccessToken, "a refresh yields a new token")
		})
	}
}

func TestGrantFailuresAgainstEmulator(t *testing.T) {
	tests := []struct {
		name     string
		grant    GrantType
		emulator func(*sfemu.Config)
		change   func(*Config)
		wantCode string
		wantDesc string // substring; empty: not checked
	}{
		{name: "client_credentials wrong secret", grant: GrantClientCredentials,
			change: func(c *Config) { c.ClientSecret = "wrong" }, wantCode: "invalid_client", wantDesc: "invalid client credentials"},
		{name: "client_credentials wrong client id", grant: GrantClientCredentials,
			change: func(c *Config) { c.ClientID = "wrong" }, wantCode: "invalid_client_id", wantDesc: "client identifier invalid"},
		{name: "client_credentials on a generic login host", grant: GrantClientCredentials,
			emulator: func(c *sfemu.Config) { c.GenericLoginHost = true }, wantCode: "invalid_grant", wantDesc: "request not supported on this domain"},
		{name: "password wrong password", grant: GrantPassword,
			change: func(c *Config) { c.Password = "wrong" }, wantCode: "invalid_grant", wantDesc: "authentication failure"},
		{name: "password without the security token", grant: GrantPassword,
			emulator: func(c *sfemu.Config) { c.SecurityToken = "SECTOKEN" }, wantCode: "invalid_grant", wantDesc: "authentication failure"},
		{name: "password wrong user", grant: GrantPassword,
			change: func(c *Config) { c.Username = "nobody@example.com" }, wantCode: "invalid_grant", wantDesc: "authentication failure"},
		{name: "refresh_token unknown token", grant: GrantRefreshToken,
			change: func(c *Config) { c.RefreshToken = "wrong" }, wantCode: "invalid_grant", wantDesc: "expired access/refresh token"},
		{name: "refresh_token wrong secret", grant: GrantRefreshToken,
			change: func(c *Config) { c.ClientSecret = "wrong" }, wantCode: "invalid_client", wantDesc: "invalid client credentials"},
		{name: "password wrong secret", grant: GrantPassword,
			change: func(c *Config) { c.ClientSecret = "wrong" }, wantCode: "invalid_client", wantDesc: "invalid client credentials"},
		{name: "jwt_bearer signed by another key", grant: GrantJWTBearer,
			change: func(c *Config) { c.PrivateKeyPEM = otherKeyPEM(t) }, wantCode: "invalid_grant", wantDesc: "invalid assertion"},
		{name: "jwt_bearer wrong audience", grant: GrantJWTBearer,
			change: func(c *Config) { c.Audience = "https://elsewhere.example" }, wantCode: "invalid_grant", wantDesc: "audience is invalid"},
		{name: "jwt_bearer wrong issuer", grant: GrantJWTBearer,
			change: func(c *Config) { c.ClientID = "wrong" }, wantCode: "invalid_client_id", wantDesc: "client identifier invalid"},
		{name: "jwt_bearer unknown user", grant: GrantJWTBearer,
			change: func(c *Config) { c.Username = "nobody@example.com" }, wantCode: "invalid_grant", wantDesc: "user hasn't approved this consumer"},
		{name: "jwt_bearer not configured", grant: GrantJWTBearer,
			emulator: func(c *sfemu.Config) { c.JWTPublicKey = nil }, wantCode: "invalid_grant", wantDesc: "invalid assertion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startEmulator(t, tt.emulator)
			cfg := emulatorConfig(t, srv.URL, tt.grant)
			if tt.change != nil {
				tt.change(&cfg)
			}
			s := newTestSource(t, cfg)
			_, err := s.Token(t.Context())
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Contains(t, e.Description, tt.wantDesc)
			assert.Contains(t, []int{400, 401}, e.StatusCode)
			assert.True(t, IsPermanent(err), "a rejected grant is permanent: %v", err)
			assertNoSecrets(t, err.Error(), sfemu.DefaultClientSecret, sfemu.DefaultPassword, sfemu.DefaultRefreshToken)
		})
	}
}

func TestPasswordWithSecurityTokenAgainstEmulator(t *testing.T) {
	srv := startEmulator(t, func(c *sfemu.Config) { c.SecurityToken = "SECTOKEN" })
	cfg := emulatorConfig(t, srv.URL, GrantPassword)
	cfg.Password = sfemu.DefaultPassword + "SECTOKEN"
	s := newTestSource(t, cfg)
	tok, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
}

func TestExpiredAssertionAgainstEmulator(t *testing.T) {
	srv := startEmulator(t, nil)
	s := newTestSource(t, emulatorConfig(t, srv.URL, GrantJWTBearer))
	s.now = func() time.Time { return time.Now().Add(-10 * time.Minute) } // a clock far behind: exp already passed
	_, err := s.Token(t.Context())
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "invalid_grant", e.Code)
	assert.True(t, IsPermanent(err))
}
