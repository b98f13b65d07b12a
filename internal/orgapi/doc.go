// Package orgapi reads the org's REST resources the input watches beside its
// streams: today the limits resource (/services/data/vXX.X/limits), whose
// delivery and publishing allocations tell an operator when events are about
// to stop.
//
// It takes its tokens from the input's token source and its HTTP client (TLS
// and proxy settings) from the input, and keeps no other state: a request
// refused with 401 gets one new token and one retry. Server text in its
// errors is quoted through the token source's redactor, so no token, secret
// or session id leaves in an error.
package orgapi
