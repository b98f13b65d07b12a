package sfemu

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu/internal/sfhttp"
)

// orgInstance is the instance (Salesforce's "pod") the emulated org lives on,
// as `SELECT InstanceName FROM Organization` reads it. An org migration moves
// the org to another instance: POST /emulator/migrate_org changes the name,
// while the org's URL (a My Domain URL) stays the same.
type orgInstance struct{ migrations atomic.Int64 }

// instanceName is EMU1 until the first migration, then EMU2, and so on.
func (o *orgInstance) instanceName() string { return fmt.Sprintf("EMU%d", 1+o.migrations.Load()) }

// isInstanceNameQuery reports whether q is the one SOQL query this file
// answers, compared without case and extra spaces.
func isInstanceNameQuery(q string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(q), " "), "SELECT InstanceName FROM Organization")
}

// serveInstanceName answers GET /services/data/vXX.X/query?q=SELECT InstanceName FROM Organization with
// Salesforce's query result shape: one Organization record.
func (s *restHandler) serveInstanceName(w http.ResponseWriter, r *http.Request, version string) {
	if r.Method != http.MethodGet {
		sfhttp.MethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
		return
	}
	attrs := newObj(nil).str("type", "Organization").
		str("url", "/services/data/v"+version+"/sobjects/Organization/"+s.cfg.OrgID).done()
	record := newObj(nil).raw("attributes", attrs).str("InstanceName", s.orgInstance.instanceName()).done()
	body := newObj(nil).int("totalSize", 1).bool("done", true).
		raw("records", append(append([]byte{'['}, record...), ']')).done()
	sfhttp.WriteRaw(w, http.StatusOK, body)
}
