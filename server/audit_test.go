package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/facematch/facematch"
)

// [FM-CON-5] [FM-SES-4] A session deleted through the API is in the audit log: who (the key),
// what (the session) and when; a refused delete records nothing.
func TestDeleteThroughTheAPIIsAudited(t *testing.T) {
	e := newEnv(t)
	k := e.tenant(5, facematch.ModeLive)
	id := e.saveSessions(k.key, "audited")[0]
	wantStatus(t, e.deleteSession(k.key, "3f1c9c5e-3b7e-4d0e-9a51-2d2f6f3f9a10"), http.StatusNotFound)
	wantStatus(t, e.deleteSession(k.key, id), http.StatusNoContent)
	log, err := e.db.AuditLog(context.Background(), k.org.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Action != "session.delete" || log[0].Target != id || log[0].Actor != "api key "+k.id || !log[0].At.Equal(e.clock.Now()) {
		t.Fatalf("audit log %+v", log)
	}
}
