package sfemu

import (
	"fmt"
	"sync/atomic"
)

// orgInstance is the instance (Salesforce's "pod") the emulated org lives on,
// as `SELECT InstanceName FROM Organization` reads it. An org migration moves
// the org to another instance: POST /emulator/migrate_org changes the name,
// while the org's URL (a My Domain URL) stays the same.
type orgInstance struct{ migrations atomic.Int64 }

// instanceName is EMU1 until the first migration, then EMU2, and so on.
func (o *orgInstance) instanceName() string { return fmt.Sprintf("EMU%d", 1+o.migrations.Load()) }
