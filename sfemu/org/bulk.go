package org

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org/soql"
)

// Bulk API 2.0 query jobs. A job runs its query when it is created (the snapshot its results page through);
// its state reads UploadComplete in the create answer and JobComplete from the first status request on, so a
// client sees the documented progression without waiting.

type bulkJobs struct {
	jobs  map[string]*BulkJob
	order []string
}

// BulkJob is a query job.
type BulkJob struct {
	ID              string
	Operation       string // query or queryAll
	Object          string
	Query           string
	CreatedByID     string
	CreatedDate     string
	SystemModstamp  string
	State           string // UploadComplete, InProgress, JobComplete, Aborted
	APIVersion      string
	ColumnDelimiter string // COMMA, BACKQUOTE, CARET, PIPE, SEMICOLON, TAB
	LineEnding      string // LF, CRLF
	Processed       int

	result *Result
	polled bool
}

// DefaultBulkPage is the rows of a results page when the client gives no maxRecords.
const DefaultBulkPage = 50_000

var delimiters = map[string]byte{"COMMA": ',', "BACKQUOTE": '`', "CARET": '^', "PIPE": '|', "SEMICOLON": ';', "TAB": '\t'}

// CreateBulkQuery validates and runs a query job. Bulk API 2.0 refuses what it cannot chunk: aggregates and
// OFFSET.
func (o *Org) CreateBulkQuery(query, operation, delimiter, lineEnding, apiVersion string) (BulkJob, error) {
	if operation != "query" && operation != "queryAll" {
		return BulkJob{}, &Error{StatusCode: "INVALIDJOB", Message: "Invalid operation: " + operation}
	}
	if delimiter == "" {
		delimiter = "COMMA"
	}
	if lineEnding == "" {
		lineEnding = "LF"
	}
	if _, ok := delimiters[delimiter]; !ok {
		return BulkJob{}, &Error{StatusCode: "INVALIDJOB", Message: "Invalid columnDelimiter: " + delimiter}
	}
	if lineEnding != "LF" && lineEnding != "CRLF" {
		return BulkJob{}, &Error{StatusCode: "INVALIDJOB", Message: "Invalid lineEnding: " + lineEnding}
	}
	q, err := o.compile(query)
	if err != nil {
		return BulkJob{}, err
	}
	if q.Count || q.Aggregate || q.offset > 0 {
		return BulkJob{}, &soql.Error{Code: "API_ERROR", Query: query, Pos: 0, Text: "Aggregate functions and OFFSET are not supported by Bulk API 2.0 query"}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.cfg.Now()
	stamp := o.stampLocked(now)
	o.serial["750"]++
	job := &BulkJob{ID: MakeID("750", o.serial["750"]), Operation: operation, Object: q.Object.Name, Query: query,
		CreatedByID: o.cfg.UserID, CreatedDate: stamp, SystemModstamp: stamp, State: "UploadComplete", APIVersion: apiVersion,
		ColumnDelimiter: delimiter, LineEnding: lineEnding}
	job.result = o.runLocked(q, operation == "queryAll")
	o.jobs.jobs[job.ID] = job
	o.jobs.order = append(o.jobs.order, job.ID)
	return *job, nil
}

// ErrNoJob is returned for an unknown job id.
var ErrNoJob = errors.New("job not found")

// BulkJobStatus returns a job's state; the first request moves a new job to JobComplete.
func (o *Org) BulkJobStatus(id string) (BulkJob, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	job, ok := o.jobs.jobs[id]
	if !ok {
		return BulkJob{}, ErrNoJob
	}
	if !job.polled && job.State == "UploadComplete" {
		job.polled, job.State, job.Processed = true, "JobComplete", len(job.result.Rows)
		job.SystemModstamp = o.stampLocked(o.cfg.Now())
	}
	return *job, nil
}

// BulkJobs lists the jobs in creation order.
func (o *Org) BulkJobs() []BulkJob {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]BulkJob, 0, len(o.jobs.order))
	for _, id := range o.jobs.order {
		out = append(out, *o.jobs.jobs[id])
	}
	return out
}

// AbortBulkJob sets a job Aborted; DeleteBulkJob removes it.
func (o *Org) AbortBulkJob(id string) (BulkJob, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	job, ok := o.jobs.jobs[id]
	if !ok {
		return BulkJob{}, ErrNoJob
	}
	if job.State != "JobComplete" {
		job.State = "Aborted"
	}
	return *job, nil
}

// DeleteBulkJob removes a job and its results.
func (o *Org) DeleteBulkJob(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.jobs.jobs[id]; !ok {
		return ErrNoJob
	}
	delete(o.jobs.jobs, id)
	o.jobs.order = slicesDelete(o.jobs.order, id)
	return nil
}

func slicesDelete(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// ErrJobNotComplete is returned for the results of a job that is not JobComplete.
var ErrJobNotComplete = errors.New("job not complete")

// ErrBadLocator is returned for a locator no page of the job has.
var ErrBadLocator = errors.New("invalid locator")

// BulkPage is one page of a job's CSV results.
type BulkPage struct {
	CSV     []byte
	Records int
	// Locator fetches the next page; "null" on the last page, as Salesforce writes it.
	Locator string
}

// BulkResults renders the page of a job's results that starts at locator ("" for the first), at most
// maxRecords rows (0: DefaultBulkPage). Every value is quoted; a null is an empty quoted value.
func (o *Org) BulkResults(id, locator string, maxRecords int) (BulkPage, error) {
	o.mu.Lock()
	job, ok := o.jobs.jobs[id]
	var res *Result
	var state string
	if ok {
		res, state = job.result, job.State
	}
	o.mu.Unlock()
	if !ok {
		return BulkPage{}, ErrNoJob
	}
	if state != "JobComplete" {
		return BulkPage{}, ErrJobNotComplete
	}
	start := 0
	if locator != "" {
		raw, err := base64.RawStdEncoding.DecodeString(locator)
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n <= 0 || n > len(res.Rows) {
			return BulkPage{}, ErrBadLocator
		}
		start = n
	}
	if maxRecords <= 0 {
		maxRecords = DefaultBulkPage
	}
	end := min(start+maxRecords, len(res.Rows))
	delim, eol := delimiters[job.ColumnDelimiter], "\n"
	if job.LineEnding == "CRLF" {
		eol = "\r\n"
	}
	var b []byte
	for i, c := range res.Columns {
		if i > 0 {
			b = append(b, delim)
		}
		b = appendCSV(b, res.Object.Fields[c].Name)
	}
	b = append(b, eol...)
	for _, row := range res.Rows[start:end] {
		for i, c := range res.Columns {
			if i > 0 {
				b = append(b, delim)
			}
			b = appendCSV(b, row[c])
		}
		b = append(b, eol...)
	}
	page := BulkPage{CSV: b, Records: end - start, Locator: "null"}
	if end < len(res.Rows) {
		page.Locator = base64.RawStdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return page, nil
}

func appendCSV(b []byte, v string) []byte {
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(v, `"`, `""`)...)
	return append(b, '"')
}
