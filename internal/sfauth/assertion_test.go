package sfauth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAssertionClaims(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, orgURL, audience, wantAud string
	}{
		{"production My Domain", "https://acme.my.salesforce.com", "", "https://login.salesforce.com"},
		{"sandbox", "https://acme--uat.sandbox.my.salesforce.com", "", "https://test.salesforce.com"},
		{"emulator", "http://127.0.0.1:7357", "", "http://127.0.0.1:7357"},
		{"explicit audience", "https://acme.my.salesforce.com", "https://acme.my.site.com/partners", "https://acme.my.site.com/partners"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSource(t, Config{OrgURL: tt.orgURL, GrantType: GrantJWTBearer, ClientID: "consumer-key",
				Username: "integration@acme.com", PrivateKeyPEM: pkcs8PEM(t), Audience: tt.audience})
			signed, err := signAssertion(s.key, s.cfg.ClientID, s.cfg.Username, s.audience, now)
			require.NoError(t, err)

			// Parse as Salesforce would: RS256 only, verified with the public key.
			claims := jwt.MapClaims{}
			parsed, err := jwt.ParseWithClaims(signed, claims, func(*jwt.Token) (any, error) { return &rsaKey(t).PublicKey, nil },
				jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
			require.NoError(t, err)
			assert.Equal(t, "RS256", parsed.Header["alg"])
			assert.Equal(t, "consumer-key", claims["iss"])
			assert.Equal(t, "integration@acme.com", claims["sub"])
			assert.Equal(t, tt.wantAud, claims["aud"], "aud must be a plain string")
			assert.Equal(t, float64(now.Add(3*time.Minute).Unix()), claims["exp"])
			assert.Len(t, claims, 4, "only iss, sub, aud, exp")
		})
	}
}

func TestAssertionIsFreshPerRequest(t *testing.T) {
	ep := newFakeEndpoint(t, numberedToken)
	s := newTestSource(t, Config{OrgURL: ep.srv.URL, GrantType: GrantJWTBearer, ClientID: "cid", Username: "u", PrivateKeyPEM: pkcs1PEM(t)})
	clock := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return clock }

	tok, err := s.Token(t.Context())
	require.NoError(t, err)
	first := ep.lastRequest().Form.Get("assertion")
	clock = clock.Add(time.Hour)
	_, err = s.Refresh(t.Context(), tok)
	require.NoError(t, err)
	second := ep.lastRequest().Form.Get("assertion")

	require.NotEmpty(t, first)
	assert.NotEqual(t, first, second, "a refresh must sign a new assertion with a new exp")
}
