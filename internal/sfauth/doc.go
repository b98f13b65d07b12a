// Package sfauth obtains and caches Salesforce OAuth 2.0 access tokens for the
// Streaming API client.
//
// A Source holds one token at a time. Token returns the cached token (fetching
// the first one); Refresh replaces a token the caller found rejected. Both are
// single-flight, so a burst of 401s from many requests costs one token request.
// Four grants are supported: client_credentials, jwt_bearer, refresh_token and
// password. Errors name the cause in Salesforce's own words
// ("invalid_grant: authentication failure"); IsPermanent tells a caller whether
// retrying soon can help. No secret ever appears in an error or in the printed
// form of Config, Token or Source.
package sfauth
