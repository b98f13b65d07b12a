// Package redact is the one place where text that came from a server (an
// error body, a Bayeux error text, a token endpoint's error_description) is
// made fit to leave the process in an error, a log line or a metric label.
//
// A Redactor knows the configured secrets and every access token issued so
// far, and removes each of them in whatever encoding a server echoes it: it
// does not list encodings but decodes the text (percent-decoding with and
// without `+` as a space, backslash and \u unescaping, HTML entities,
// base64 runs), up to three decodings stacked, searches every decoded layer,
// and removes the original bytes a match was decoded from (decode.go). It
// also removes what it does not know but can recognise: Authorization,
// Proxy-Authorization, Cookie and Set-Cookie header values, Bearer and Basic
// credentials, values of fields named like secrets, and anything shaped like
// a Salesforce session id (00D… ! …).
//
// Quote turns server text into a short single line: redacted, HTML markup
// dropped, control characters and runs of space collapsed, then truncated.
// Server text is never shown any other way.
package redact
