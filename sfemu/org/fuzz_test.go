package org

import (
	"errors"
	"testing"
	"time"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/org/soql"
)

// FuzzQuery: any statement either runs against the org or fails with a query error; nothing panics, and a
// result never holds more rows than the object has.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"SELECT Id, Name FROM Account WHERE Name LIKE 'a%' AND (NumberOfEmployees > 1 OR Industry IN ('Energy')) ORDER BY Name DESC NULLS LAST LIMIT 3 OFFSET 1",
		"SELECT COUNT() FROM Account WHERE CreatedDate = LAST_N_DAYS:3", "SELECT COUNT(Industry) FROM Account",
		"SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00Z AND IsDeleted = false AND AnnualRevenue != null"} {
		f.Add(s, true)
	}
	o, err := New(Config{OrgID: "00D5e000000SfEmUAQ", UserID: testUser, Seed: 1, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		f.Fatal(err)
	}
	if err := o.Populate("Account", 20); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string, all bool) {
		res, err := o.Query(q, all)
		if err != nil {
			var qe *soql.Error
			if !errors.As(err, &qe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(res.Rows) > 20 || res.TotalSize > 20 {
			t.Fatalf("%q: %d rows, total %d, from 20 records", q, len(res.Rows), res.TotalSize)
		}
	})
}
