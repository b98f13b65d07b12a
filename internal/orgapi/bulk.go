package orgapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Bulk API 2.0 query job states.
const (
	JobUploadComplete = "UploadComplete"
	JobInProgress     = "InProgress"
	JobComplete       = "JobComplete"
	JobFailed         = "Failed"
	JobAborted        = "Aborted"
)

// Job is a Bulk API 2.0 query job.
type Job struct {
	ID                     string `json:"id"`
	Object                 string `json:"object"`
	State                  string `json:"state"`
	NumberRecordsProcessed int64  `json:"numberRecordsProcessed"`
	ErrorMessage           string `json:"errorMessage"`
}

// CreateQueryJob starts a Bulk API 2.0 query job of soql (queryAll when all).
func (c *Client) CreateQueryJob(ctx context.Context, soql string, all bool) (Job, error) {
	op := "query"
	if all {
		op = "queryAll"
	}
	body, err := json.Marshal(map[string]string{"operation": op, "query": soql, "contentType": "CSV",
		"columnDelimiter": "COMMA", "lineEnding": "LF"})
	if err != nil {
		return Job{}, err
	}
	var job Job
	if err := c.jobCall(ctx, request{kind: KindBulkCreate, method: http.MethodPost, path: c.dataPath("/jobs/query"),
		body: body, retry: true}, &job); err != nil {
		return Job{}, fmt.Errorf("creating a Bulk API 2.0 query job: %w", err)
	}
	return job, nil
}

// QueryJob reads a job's state.
func (c *Client) QueryJob(ctx context.Context, id string) (Job, error) {
	var job Job
	if err := c.jobCall(ctx, request{kind: KindBulkPoll, method: http.MethodGet, path: c.jobPath(id), retry: true}, &job); err != nil {
		return Job{}, fmt.Errorf("reading Bulk API 2.0 job %s: %w", id, err)
	}
	return job, nil
}

// WaitQueryJob polls a job until it is complete, waiting poll between reads
// at first and up to maxPoll as it runs on (each read is an API call). A
// failed or aborted job is an error.
func (c *Client) WaitQueryJob(ctx context.Context, id string, poll time.Duration) (Job, error) {
	const maxPoll = 10 * time.Second
	for {
		job, err := c.QueryJob(ctx, id)
		if err != nil {
			return job, err
		}
		switch job.State {
		case JobComplete:
			return job, nil
		case JobFailed, JobAborted:
			return job, fmt.Errorf("the Bulk API 2.0 job %s ended %s: %s", id, job.State, c.red.String(job.ErrorMessage))
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return job, ctx.Err()
		case <-t.C:
		}
		poll = min(poll*2, maxPoll)
	}
}

// DeleteQueryJob deletes a job and its results.
func (c *Client) DeleteQueryJob(ctx context.Context, id string) error {
	resp, err := c.send(ctx, request{kind: KindBulkDelete, method: http.MethodDelete, path: c.jobPath(id), retry: true})
	if err != nil {
		return fmt.Errorf("deleting Bulk API 2.0 job %s: %w", id, err)
	}
	drain(resp)
	return nil
}

// RowFunc receives one CSV row of a results page with the page's header
// (column names). Both slices are reused: copy what you keep.
type RowFunc func(header, row []string) error

// QueryResults reads one page of a complete job's results, from locator (""
// for the first page), at most maxRecords rows (0: the server's choice),
// handing each row to fn as it is parsed. It answers the next page's locator,
// "" after the last page, and the rows read.
func (c *Client) QueryResults(ctx context.Context, id, locator string, maxRecords int, fn RowFunc) (string, int64, error) {
	q := url.Values{}
	if locator != "" {
		q.Set("locator", locator)
	}
	if maxRecords > 0 {
		q.Set("maxRecords", strconv.Itoa(maxRecords))
	}
	path := c.jobPath(id) + "/results"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, request{kind: KindBulkResults, method: http.MethodGet, path: path, accept: "text/csv",
		retry: true, stream: true})
	if err != nil {
		return "", 0, fmt.Errorf("reading Bulk API 2.0 job %s results: %w", id, err)
	}
	defer resp.Body.Close()
	next := resp.Header.Get("Sforce-Locator")
	if next == "null" {
		next = ""
	}
	r := csv.NewReader(resp.Body)
	r.ReuseRecord = true
	var header []string
	var n int64
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", n, fmt.Errorf("reading Bulk API 2.0 job %s results: %w", id, err)
		}
		if header == nil {
			header = append([]string(nil), row...)
			continue
		}
		if err := fn(header, row); err != nil {
			return "", n, err
		}
		n++
	}
	if want := resp.Header.Get("Sforce-NumberOfRecords"); want != "" && want != strconv.FormatInt(n, 10) {
		return "", n, fmt.Errorf("reading Bulk API 2.0 job %s results: %d rows where the answer announced %s", id, n, want)
	}
	return next, n, nil
}

func (c *Client) jobPath(id string) string { return c.dataPath("/jobs/query/" + url.PathEscape(id)) }

// jobCall sends rq and decodes its JSON answer into out.
func (c *Client) jobCall(ctx context.Context, rq request, out any) error {
	body, err := c.readAll(ctx, rq)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the answer is not a job: %s", c.red.Quote(body))
	}
	return nil
}
