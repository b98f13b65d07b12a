// Package orgapi reads the org's REST resources the input uses beside its
// streams: the limits resource, SOQL query and queryAll with their pages
// (nextRecordsUrl), COUNT(), describe, sObject Collections retrieve (up to
// 2,000 ids a request) and Bulk API 2.0 query jobs with their CSV results
// (Sforce-Locator pages). Snapshots and gap resolution read records through
// it; the limits poller reads the allocations.
//
// Answers that hold records are streamed: a query page's records are decoded
// one at a time from the response, a Bulk results page is parsed row by row,
// so memory does not grow with a page or an object.
//
// Every request takes the one path in send: the token of the input's token
// source and its HTTP client (TLS and proxy settings); a request refused with
// 401 gets one new token and one retry; a busy server (503) is retried after
// the streaming clients' backoff (internal/bayeux BackoffConfig.Delay) and an
// exhausted API allocation (REQUEST_LIMIT_EXCEEDED) after its long wait, until
// the caller's context ends; other refusals are final. Hooks count every
// request sent by kind (each one counts against DailyApiRequests) and see
// each wait. Server text in errors is quoted through the redactor, so no
// token, secret or session id leaves in an error.
package orgapi
