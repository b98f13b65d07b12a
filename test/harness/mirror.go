package harness

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/salesforce-streaming/salesforce_streaming/internal/orgapi"
	"github.com/salesforce-streaming/salesforce_streaming/internal/sfauth"
)

// MirrorTable is one table of a record mirror (config/cdc_mirror_postgres.yaml): the object it copies, the
// table, and the fields it keeps, each in a column named as the field in lower case, keyed by the record id in
// column id.
type MirrorTable struct {
	Object, Table string
	Fields        []string
}

// ShippedMirrorTables are the tables of config/cdc_mirror_postgres.yaml.
var ShippedMirrorTables = []MirrorTable{
	{Object: "Account", Table: "sf_account", Fields: []string{"Name", "Industry", "BillingCity"}},
	{Object: "Contact", Table: "sf_contact", Fields: []string{"LastName", "Email", "AccountId"}},
}

// EmulatorOrgClient reads the emulator's records through its REST data API with the default connected app.
func EmulatorOrgClient(orgURL string) (*orgapi.Client, error) {
	src, err := sfauth.NewSource(sfauth.Config{OrgURL: orgURL, GrantType: sfauth.GrantClientCredentials,
		ClientID: EmulatorClientID, ClientSecret: EmulatorClientSecret})
	if err != nil {
		return nil, fmt.Errorf("the emulator's credentials: %w", err)
	}
	return orgapi.New(src, nil, "64.0", nil), nil
}

// MirrorDiff answers the first difference between the tables in db and the org's live records, field for field
// (a NULL column equals an absent or empty value): a record missing, a value stale, a row the org no longer has.
// It answers "" when they are equal, and a table that does not exist yet is a difference.
func MirrorDiff(ctx context.Context, db *dbsql.DB, org *orgapi.Client, tables []MirrorTable) (string, error) {
	for _, tb := range tables {
		want, err := orgRecords(ctx, org, tb)
		if err != nil {
			return "", err
		}
		got, err := tableRecords(ctx, db, tb)
		if IsMissingTable(err) {
			return tb.Table + " does not exist yet", nil
		}
		if err != nil {
			return "", err
		}
		for id, w := range want {
			g, ok := got[id]
			if !ok {
				return fmt.Sprintf("%s: %s missing (%d rows for %d records)", tb.Table, id, len(got), len(want)), nil
			}
			for k := range w {
				if g[k] != w[k] {
					return fmt.Sprintf("%s: %s.%s is %q, the org has %q", tb.Table, id, tb.Fields[k], g[k], w[k]), nil
				}
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				return fmt.Sprintf("%s: %s is not a live record of the org", tb.Table, id), nil
			}
		}
	}
	return "", nil
}

// orgRecords reads the fields of tb's object for every live record, by id.
func orgRecords(ctx context.Context, org *orgapi.Client, tb MirrorTable) (map[string][]string, error) {
	want := map[string][]string{}
	soql := "SELECT Id, " + strings.Join(tb.Fields, ", ") + " FROM " + tb.Object
	_, err := org.QueryEach(ctx, soql, false, func(rec json.RawMessage) error {
		var m map[string]any
		if err := json.Unmarshal(rec, &m); err != nil {
			return err
		}
		id, _ := m["Id"].(string)
		if id == "" {
			return fmt.Errorf("a %s record without an Id: %.200s", tb.Object, rec)
		}
		vals := make([]string, len(tb.Fields))
		for k, f := range tb.Fields {
			if v, ok := m[f].(string); ok {
				vals[k] = v
			}
		}
		want[id] = vals
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the org's %s records: %w", tb.Object, err)
	}
	return want, nil
}

// tableRecords reads tb's rows, by id, NULL as "".
func tableRecords(ctx context.Context, db *dbsql.DB, tb MirrorTable) (map[string][]string, error) {
	cols := "id"
	for _, f := range tb.Fields {
		cols += ", coalesce(" + strings.ToLower(f) + ", '')"
	}
	rows, err := db.QueryContext(ctx, "SELECT "+cols+" FROM "+tb.Table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[string][]string{}
	for rows.Next() {
		var id string
		vals := make([]string, len(tb.Fields))
		ptrs := []any{&id}
		for k := range vals {
			ptrs = append(ptrs, &vals[k])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("reading %s: %w", tb.Table, err)
		}
		got[id] = vals
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", tb.Table, err)
	}
	return got, nil
}

// IsMissingTable tells whether err is a database's "no such table" (PostgreSQL's SQLSTATE 42P01, MySQL's error
// 1146): a destination whose pipeline has not created its tables yet.
func IsMissingTable(err error) bool {
	if err == nil {
		return false
	}
	text := err.Error()
	return strings.Contains(text, "42P01") || strings.Contains(text, "Error 1146")
}
