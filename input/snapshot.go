package input

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/input/checkpointfmt"
	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
)

// The snapshot reads the current records of snapshot.objects, object by
// object, as pages of messages (snapshot_body.go); snapshot_progress.go
// stores a page's progress once its messages are acknowledged, so that a
// restart resumes after the last acknowledged page. REST pages are read
// ordered by Id and resume from the last id; Bulk API 2.0 pages resume from
// the job and its locator, and a job Salesforce no longer has starts the
// object again.

// orgReader is what snapshots and gap resolution use of *orgapi.Client.
type orgReader interface {
	Describe(ctx context.Context, object string) ([]orgapi.Field, error)
	Count(ctx context.Context, object, where string, all bool) (int64, error)
	Query(ctx context.Context, soql string, all bool, fn orgapi.RecordFunc) (orgapi.Page, error)
	QueryMore(ctx context.Context, next string, fn orgapi.RecordFunc) (orgapi.Page, error)
	Retrieve(ctx context.Context, object string, ids, fields []string, fn orgapi.FoundFunc) error
	CreateQueryJob(ctx context.Context, soql string, all bool) (orgapi.Job, error)
	WaitQueryJob(ctx context.Context, id string, poll time.Duration) (orgapi.Job, error)
	QueryResults(ctx context.Context, id, locator string, maxRecords int, fn orgapi.RowFunc) (string, int64, error)
	DeleteQueryJob(ctx context.Context, id string) error
}

// bulkPageRecords is the maxRecords of a Bulk results page: large pages
// spend few API calls, and a page is streamed, never held, so its size only
// bounds the messages a page makes.
const bulkPageRecords = 10_000

// snapshotPage is one page of an object's snapshot: its messages, and the
// object's progress once they are acknowledged.
type snapshotPage struct {
	msgs  service.MessageBatch
	after checkpointfmt.ObjectProgress
}

// snapshotReader reads the objects of one snapshot generation.
type snapshotReader struct {
	org     orgReader
	body    bodyShape // the shape of record messages
	method  snapshotMethod
	objects []snapshotObject
	gen     int64
	// pageRecords bounds the messages of a page (REST pages are the
	// server's, up to 2,000).
	pageRecords int
	progress    *snapshotProgress
}

// run reads every object not complete in start, in order, handing each page
// to emit (which blocks until the page is taken). It ends after the last
// object's end marker.
func (r *snapshotReader) run(ctx context.Context, start checkpointfmt.SnapshotState, emit func(context.Context, snapshotPage) error) error {
	for _, obj := range r.objects {
		prog := checkpointfmt.ObjectProgress{Object: obj.Name}
		for _, p := range start.Objects {
			if p.Object == obj.Name {
				prog = p
			}
		}
		if prog.Complete {
			continue
		}
		schema, err := loadSchema(ctx, r.org, obj.Name, obj.Fields)
		if err != nil {
			return err
		}
		if err := r.object(ctx, schema, prog, emit); err != nil {
			return fmt.Errorf("snapshot of %s: %w", obj.Name, err)
		}
	}
	return nil
}

// object reads one object from prog on.
func (r *snapshotReader) object(ctx context.Context, s *objectSchema, prog checkpointfmt.ObjectProgress, emit func(context.Context, snapshotPage) error) error {
	if prog.Method == "" {
		total, err := r.org.Count(ctx, s.name, "", false)
		if err != nil {
			return err
		}
		prog.Total = total
		prog.Method = checkpointfmt.SnapshotREST
		if r.method == methodBulk || r.method == methodAuto && total > bulkThreshold {
			prog.Method = checkpointfmt.SnapshotBulk
		}
	}
	r.progress.begin(s.name, prog)
	var err error
	if prog.Method == checkpointfmt.SnapshotBulk {
		err = r.bulk(ctx, s, prog, emit)
	} else {
		err = r.rest(ctx, s, prog, emit)
	}
	if err != nil {
		return err
	}
	return nil
}

// rest pages the object ordered by Id from prog.LastID.
func (r *snapshotReader) rest(ctx context.Context, s *objectSchema, prog checkpointfmt.ObjectProgress, emit func(context.Context, snapshotPage) error) error {
	soql := "SELECT " + s.selectList() + " FROM " + s.name
	if prog.LastID != "" {
		soql += " WHERE Id > " + soqlString(prog.LastID)
	}
	soql += " ORDER BY Id"
	var msgs service.MessageBatch
	collect := func(rec json.RawMessage) error {
		id, values, err := recordOf(rec)
		if err != nil {
			return err
		}
		msg, err := s.recordMessage(r.body, changeSnapshot, id, values, r.gen)
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		prog.LastID = id
		return nil
	}
	page, err := r.org.Query(ctx, soql, false, collect)
	for {
		if err != nil {
			return err
		}
		prog.Done += int64(len(msgs))
		if page.NextRecordsURL == "" {
			prog.Complete = true
			msgs = append(msgs, s.endMessage(r.body, r.gen))
		}
		if len(msgs) > 0 {
			if err := emit(ctx, snapshotPage{msgs: msgs, after: prog}); err != nil {
				return err
			}
		}
		if prog.Complete {
			return nil
		}
		msgs = nil
		page, err = r.org.QueryMore(ctx, page.NextRecordsURL, collect)
	}
}

// bulk reads the object through a Bulk API 2.0 query job: prog.Job's from
// prog.Locator on, or a new one. A job Salesforce no longer has (deleted
// after 7 days, or by someone) starts the object over.
func (r *snapshotReader) bulk(ctx context.Context, s *objectSchema, prog checkpointfmt.ObjectProgress, emit func(context.Context, snapshotPage) error) error {
	if prog.Job == "" {
		job, err := r.org.CreateQueryJob(ctx, "SELECT "+s.selectList()+" FROM "+s.name, false)
		if err != nil {
			return err
		}
		prog.Job, prog.Locator, prog.Done = job.ID, "", 0
	}
	job, err := r.org.WaitQueryJob(ctx, prog.Job, time.Second)
	var se *orgapi.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		prog.Job, prog.Locator, prog.Done = "", "", 0
		return r.bulk(ctx, s, prog, emit)
	}
	if err != nil {
		return err
	}
	prog.Total = job.NumberRecordsProcessed
	r.progress.begin(s.name, prog)
	values := make(map[string]any, len(s.fields)+2)
	for {
		var msgs service.MessageBatch
		var colTypes []string // the page's columns' types, read once per page
		next, _, err := r.org.QueryResults(ctx, prog.Job, prog.Locator, r.bulkPage(), func(header, row []string) error {
			if colTypes == nil {
				for _, col := range header {
					colTypes = append(colTypes, s.types[strings.ToLower(col)])
				}
			}
			clear(values)
			for i, col := range header {
				values[col] = typedAs(colTypes[i], row[i])
			}
			id, _ := values["Id"].(string)
			if id == "" {
				return errors.New("a results row without Id")
			}
			msg, err := s.recordMessage(r.body, changeSnapshot, id, values, r.gen)
			if err != nil {
				return err
			}
			msgs = append(msgs, msg)
			return nil
		})
		if err != nil {
			return err
		}
		prog.Done += int64(len(msgs))
		prog.Locator = next
		if next == "" {
			prog.Complete = true
			msgs = append(msgs, s.endMessage(r.body, r.gen))
		}
		if err := emit(ctx, snapshotPage{msgs: msgs, after: prog}); err != nil {
			return err
		}
		if prog.Complete {
			return nil
		}
	}
}

func (r *snapshotReader) bulkPage() int {
	if r.pageRecords > 0 {
		return r.pageRecords
	}
	return bulkPageRecords
}

// soqlString writes s as a SOQL string literal.
func soqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
