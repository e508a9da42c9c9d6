package cli

import (
	"context"
	"fmt"

	"github.com/facematch/facematch"
)

// audit records an operator's change in the audit log the console shows admins (FM-CON-5): who
// ("cli" and the system user), what and when. The change is made by then, so a failure to record
// it says so rather than hiding it.
func audit(ctx context.Context, c *cmdContext, db facematch.AuditLog, orgID, action, target, detail string) error {
	actor := "cli"
	if u := c.getenv("USER"); u != "" {
		actor += " (" + u + ")"
	}
	if err := db.RecordAudit(ctx, facematch.AuditEntry{Actor: actor, OrgID: orgID, Action: action, Target: target, Detail: detail}); err != nil {
		return fmt.Errorf("%s %s was done, but recording it in the audit log failed: %w", action, target, err)
	}
	return nil
}
