package dataapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org"
)

// bulk is /jobs/query[/{id}[/results]]: Bulk API 2.0 query jobs.
func (a *API) bulk(w http.ResponseWriter, r *http.Request, version string, rest []string) {
	switch {
	case len(rest) == 0:
		if !allow(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodGet {
			var records []any
			for _, j := range a.org.BulkJobs() {
				records = append(records, jobJSON(j))
			}
			if records == nil {
				records = []any{}
			}
			writeJSON(w, http.StatusOK, map[string]any{"done": true, "records": records, "nextRecordsUrl": nil})
			return
		}
		a.createJob(w, r, version)
	case len(rest) == 1:
		if !allow(w, r, http.MethodGet, http.MethodPatch, http.MethodDelete) {
			return
		}
		switch r.Method {
		case http.MethodDelete:
			if err := a.org.DeleteBulkJob(rest[0]); err != nil {
				jobNotFound(w)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPatch:
			var body struct {
				State string `json:"state"`
			}
			if !readBody(w, r, &body) {
				return
			}
			if body.State != "Aborted" {
				writeError(w, http.StatusBadRequest, "INVALIDJOBSTATE", "Invalid state: "+body.State)
				return
			}
			job, err := a.org.AbortBulkJob(rest[0])
			if err != nil {
				jobNotFound(w)
				return
			}
			writeJSON(w, http.StatusOK, jobJSON(job))
		default:
			job, err := a.org.BulkJobStatus(rest[0])
			if err != nil {
				jobNotFound(w)
				return
			}
			writeJSON(w, http.StatusOK, jobStatusJSON(job))
		}
	case len(rest) == 2 && rest[1] == "results":
		if !allow(w, r, http.MethodGet) {
			return
		}
		a.results(w, r, rest[0])
	default:
		notFound(w)
	}
}

func jobNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

func (a *API) createJob(w http.ResponseWriter, r *http.Request, version string) {
	var body struct {
		Operation       string `json:"operation"`
		Query           string `json:"query"`
		ContentType     string `json:"contentType"`
		ColumnDelimiter string `json:"columnDelimiter"`
		LineEnding      string `json:"lineEnding"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.ContentType != "" && body.ContentType != "CSV" {
		writeError(w, http.StatusBadRequest, "INVALIDJOB", "Invalid contentType: "+body.ContentType)
		return
	}
	job, err := a.org.CreateBulkQuery(body.Query, body.Operation, body.ColumnDelimiter, body.LineEnding, version)
	if err != nil {
		var oe *org.Error
		if errors.As(err, &oe) {
			writeError(w, http.StatusBadRequest, oe.StatusCode, oe.Message)
			return
		}
		writeQueryError(w, err)
		return
	}
	a.hooks.BulkQueryJob()
	writeJSON(w, http.StatusOK, jobJSON(job))
}

// jobJSON is a job as the create answer shows it (Salesforce's key order; a struct keeps it).
func jobJSON(j org.BulkJob) any {
	return struct {
		ID              string      `json:"id"`
		Operation       string      `json:"operation"`
		Object          string      `json:"object"`
		CreatedByID     string      `json:"createdById"`
		CreatedDate     string      `json:"createdDate"`
		SystemModstamp  string      `json:"systemModstamp"`
		State           string      `json:"state"`
		ConcurrencyMode string      `json:"concurrencyMode"`
		ContentType     string      `json:"contentType"`
		APIVersion      json.Number `json:"apiVersion"`
		LineEnding      string      `json:"lineEnding"`
		ColumnDelimiter string      `json:"columnDelimiter"`
	}{j.ID, j.Operation, j.Object, j.CreatedByID, j.CreatedDate, j.SystemModstamp, j.State, "Parallel", "CSV",
		json.Number(j.APIVersion), j.LineEnding, j.ColumnDelimiter}
}

// jobStatusJSON is a job as GET /jobs/query/{id} shows it.
func jobStatusJSON(j org.BulkJob) any {
	return struct {
		ID                     string      `json:"id"`
		Operation              string      `json:"operation"`
		Object                 string      `json:"object"`
		CreatedByID            string      `json:"createdById"`
		CreatedDate            string      `json:"createdDate"`
		SystemModstamp         string      `json:"systemModstamp"`
		State                  string      `json:"state"`
		ConcurrencyMode        string      `json:"concurrencyMode"`
		ContentType            string      `json:"contentType"`
		APIVersion             json.Number `json:"apiVersion"`
		JobType                string      `json:"jobType"`
		LineEnding             string      `json:"lineEnding"`
		ColumnDelimiter        string      `json:"columnDelimiter"`
		NumberRecordsProcessed int         `json:"numberRecordsProcessed"`
		Retries                int         `json:"retries"`
		TotalProcessingTime    int         `json:"totalProcessingTime"`
		IsPkChunkingSupported  bool        `json:"isPkChunkingSupported"`
	}{j.ID, j.Operation, j.Object, j.CreatedByID, j.CreatedDate, j.SystemModstamp, j.State, "Parallel", "CSV",
		json.Number(j.APIVersion), "V2Query", j.LineEnding, j.ColumnDelimiter, j.Processed, 0, 0, true}
}

// results is GET /jobs/query/{id}/results?locator=&maxRecords=: one CSV page with Sforce-Locator and
// Sforce-NumberOfRecords.
func (a *API) results(w http.ResponseWriter, r *http.Request, id string) {
	maxRecords := 0
	if v := r.URL.Query().Get("maxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "INVALIDURL", "maxRecords must be a positive number")
			return
		}
		maxRecords = n
	}
	page, err := a.org.BulkResults(id, r.URL.Query().Get("locator"), maxRecords)
	switch {
	case errors.Is(err, org.ErrNoJob):
		jobNotFound(w)
		return
	case errors.Is(err, org.ErrJobNotComplete):
		writeError(w, http.StatusPreconditionFailed, "JOB_NOT_COMPLETE", "can only download query results of successfully completed bulk job with status: JOB_COMPLETE")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "INVALID_LOCATOR", "Invalid locator")
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Sforce-Locator", page.Locator)
	w.Header().Set("Sforce-NumberOfRecords", strconv.Itoa(page.Records))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(page.CSV)
}
