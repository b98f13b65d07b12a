package stream

import (
	"context"

	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// TokenSource supplies access tokens with the org facts Salesforce returns beside them (sfauth.Source is one).
// Refresh is called with the token Salesforce refused; a source that already holds a newer one returns it. A
// source marks a login Salesforce refused (wrong or revoked credentials) with a *LoginRejectedError.
type TokenSource interface {
	Token(ctx context.Context) (sfauth.Token, error)
	Refresh(ctx context.Context, stale sfauth.Token) (sfauth.Token, error)
}
