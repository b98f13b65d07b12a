package sfauth

import (
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// assertionLifetime is how far in the future exp lies. Salesforce rejects an
// assertion whose exp is more than three minutes away.
const assertionLifetime = 3 * time.Minute

// signAssertion builds the RS256 assertion of the JWT bearer flow. aud is a
// plain string, not the one-element array jwt's RegisteredClaims would emit by
// default, because that is the form Salesforce documents.
func signAssertion(key *rsa.PrivateKey, clientID, username, audience string, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss": clientID,
		"sub": username,
		"aud": audience,
		"exp": now.Add(assertionLifetime).Unix(),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signing JWT assertion: %w", err)
	}
	return signed, nil
}
