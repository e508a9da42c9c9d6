package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/facematch/facematch"
)

// saveAs saves a session of app with a decision: status, and score (nil for no face pair).
func saveAs(t *testing.T, s facematch.Store, o facematch.Organization, app facematch.Application, vendor, status string, score *float64, at time.Time) facematch.Session {
	t.Helper()
	ctx := context.Background()
	id := requestID()
	r, err := s.ReserveCredit(ctx, o.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.CreateSession(ctx, facematch.NewSession{
		Session: facematch.Session{ID: id, AppID: app.ID, VendorData: &vendor, CreatedAt: at,
			FaceMatch: facematch.FaceMatch{Status: status, Score: score, Warnings: []facematch.Warning{}}},
		Source: facematch.StoredImage{ContentType: "image/png", Data: []byte("ref")},
		Target: facematch.StoredImage{ContentType: "image/png", Data: []byte("user")},
		Credit: r,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func ptr[T any](v T) *T { return &v }

// [FM-SES-5] [FM-CON-2] [FM-CON-4] Lists of sessions: scoped to an application or an
// organization, newest first, filters combined with AND, counts exact, deleted sessions gone,
// and the calls per day by outcome; written through one handle, read through another.
func testListSessions(t *testing.T, open Open) {
	clk := NewClock()
	w, r := open(t, clk.Now), open(t, clk.Now)
	ctx := context.Background()
	o, web := seed(t, w, 100)
	mobile, err := w.CreateApplication(ctx, o.ID, "mobile", facematch.ModeLive)
	if err != nil {
		t.Fatal(err)
	}
	other, otherApp := seed(t, w, 10)
	day0 := clk.Now().UTC().Truncate(24 * time.Hour)
	var saved []facematch.Session
	for i, c := range []struct {
		app    facematch.Application
		vendor string
		status string
		score  *float64
	}{
		{web, "Alice-1", facematch.StatusApproved, ptr(91.0)},
		{web, "bob-1", facematch.StatusDeclined, ptr(12.0)},
		{mobile, "alice-2", facematch.StatusDeclined, nil},
		{web, "alice-2", facematch.StatusApproved, ptr(77.5)},
		{mobile, "carol", facematch.StatusApproved, ptr(88.0)},
	} {
		saved = append(saved, saveAs(t, w, o, c.app, c.vendor, c.status, c.score, day0.Add(time.Duration(i)*25*time.Hour)))
	}
	saveAs(t, w, other, otherApp, "alice-2", facematch.StatusApproved, ptr(90.0), day0)

	list := func(f facematch.SessionQuery) facematch.SessionPage {
		t.Helper()
		p, err := r.QuerySessions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	at := func(d time.Duration) *time.Time { v := day0.Add(d); return &v }
	cases := []struct {
		name string
		f    facematch.SessionQuery
		want []int // indexes into saved, newest first
	}{
		{"app", facematch.SessionQuery{AppID: web.ID}, []int{3, 1, 0}},
		{"org", facematch.SessionQuery{OrgID: o.ID}, []int{4, 3, 2, 1, 0}},
		{"vendor_data exact", facematch.SessionQuery{OrgID: o.ID, VendorData: ptr("alice-2")}, []int{3, 2}},
		{"search ignores case", facematch.SessionQuery{OrgID: o.ID, Search: "ALICE"}, []int{3, 2, 0}},
		{"search is a substring, not a pattern", facematch.SessionQuery{OrgID: o.ID, Search: "%"}, nil},
		{"status", facematch.SessionQuery{OrgID: o.ID, Statuses: []string{facematch.StatusDeclined}}, []int{2, 1}},
		{"statuses", facematch.SessionQuery{OrgID: o.ID, Statuses: []string{facematch.StatusDeclined, facematch.StatusApproved}}, []int{4, 3, 2, 1, 0}},
		{"dates inclusive", facematch.SessionQuery{OrgID: o.ID, From: at(25 * time.Hour), To: at(75 * time.Hour)}, []int{3, 2, 1}},
		{"and", facematch.SessionQuery{AppID: web.ID, Search: "alice", Statuses: []string{facematch.StatusApproved}, To: at(time.Hour)}, []int{0}},
		{"page", facematch.SessionQuery{OrgID: o.ID, Limit: 2, Offset: 1}, []int{3, 2}},
		{"past the end", facematch.SessionQuery{OrgID: o.ID, Offset: 10}, nil},
	}
	for _, c := range cases {
		p := list(c.f)
		var got []string
		for _, s := range p.Sessions {
			got = append(got, s.ID)
		}
		var want []string
		for _, i := range c.want {
			want = append(want, saved[i].ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: sessions %v, want %v", c.name, got, want)
		}
		count := len(c.want)
		switch c.name {
		case "page", "past the end":
			count = 5
		}
		if p.Count != count {
			t.Errorf("%s: count %d, want %d", c.name, p.Count, count)
		}
	}
	first := list(facematch.SessionQuery{AppID: web.ID, Limit: 1}).Sessions[0]
	if first.Number != saved[3].Number || *first.VendorData != "alice-2" || *first.FaceMatch.Score != 77.5 {
		t.Fatalf("listed session %+v", first)
	}
	if err := w.DeleteSession(ctx, web.ID, saved[3].ID); err != nil {
		t.Fatal(err)
	}
	if p := list(facematch.SessionQuery{OrgID: o.ID}); p.Count != 4 || p.Sessions[0].ID != saved[4].ID || p.Sessions[1].ID != saved[2].ID {
		t.Fatalf("after a delete: count %d", p.Count)
	}
	if p := list(facematch.SessionQuery{AppID: web.ID}); p.Count != 2 {
		t.Fatalf("after a delete, the application counts %d", p.Count)
	}
	days, err := r.DailyCounts(ctx, o.ID, day0)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, d := range days {
		got += fmt.Sprintf("%s:%d/%d/%d ", d.Day.Format(time.DateOnly), d.Approved, d.Declined, d.NoFace)
	}
	want := ""
	for i, c := range []string{"1/0/0", "0/1/0", "0/0/1", "1/0/0"} {
		offset := []int{0, 1, 2, 4}[i]
		want += day0.AddDate(0, 0, offset).Format(time.DateOnly) + ":" + c + " "
	}
	if got != want {
		t.Fatalf("calls per day %q, want %q (the deleted session's day is gone)", got, want)
	}
	if days, _ := r.DailyCounts(ctx, o.ID, day0.AddDate(0, 0, 3)); len(days) != 1 {
		t.Fatalf("from day 3: %v", days)
	}
}

// [FM-CON-1] Accounts, failed logins and their lock, and server-side logins, across handles.
func testAccountsAndLogins(t *testing.T, open Open) {
	clk := NewClock()
	w, r := open(t, clk.Now), open(t, clk.Now)
	ctx := context.Background()
	o, _ := seed(t, w, 0)
	a, err := w.CreateAccount(ctx, facematch.Account{OrgID: o.ID, Email: " Ana@Example.com ", Admin: true, PasswordHash: []byte("$2a$hash")})
	if err != nil || a.Email != "ana@example.com" || a.ID == "" {
		t.Fatalf("%+v %v", a, err)
	}
	_, err = r.CreateAccount(ctx, facematch.Account{OrgID: o.ID, Email: "ANA@example.com", PasswordHash: []byte("x")})
	wantCode(t, "a taken email", err, facematch.EINVALID)
	_, err = w.CreateAccount(ctx, facematch.Account{OrgID: "no-such-org", Email: "bo@example.com", PasswordHash: []byte("x")})
	wantCode(t, "an unknown organization", err, facematch.ENOTFOUND)
	got, err := r.AccountByEmail(ctx, "ANA@EXAMPLE.COM")
	if err != nil || got.ID != a.ID || !got.Admin || got.OrgID != o.ID || !bytes.Equal(got.PasswordHash, a.PasswordHash) {
		t.Fatalf("%+v %v", got, err)
	}
	_, err = r.AccountByEmail(ctx, "nobody@example.com")
	wantCode(t, "an unknown email", err, facematch.ENOTFOUND)

	for i := range 4 {
		h := []facematch.Store{w, r}[i%2]
		until, err := h.LoginFailed(ctx, "ana@example.com", clk.Now(), 5, 15*time.Minute, 15*time.Minute)
		if err != nil || until != nil {
			t.Fatalf("failure %d: %v %v", i+1, until, err)
		}
	}
	if err := w.LoginSucceeded(ctx, "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		until, err := r.LoginFailed(ctx, "ana@example.com", clk.Now(), 5, 15*time.Minute, 15*time.Minute)
		if err != nil || (until != nil) != (i == 4) {
			t.Fatalf("failure %d after a success: %v %v", i+1, until, err)
		}
	}
	if until, err := w.LoginLockedUntil(ctx, "ana@example.com", clk.Now()); err != nil || until == nil || !until.Equal(clk.Now().Add(15*time.Minute)) {
		t.Fatalf("locked until %v, %v", until, err)
	}
	clk.Add(15 * time.Minute)
	if until, err := w.LoginLockedUntil(ctx, "ana@example.com", clk.Now()); err != nil || until != nil {
		t.Fatalf("still locked after 15 minutes: %v %v", until, err)
	}

	l := facematch.Login{TokenHash: []byte("token-hash"), AccountID: a.ID, CSRF: "csrf", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
	if err := w.CreateLogin(ctx, l); err != nil {
		t.Fatal(err)
	}
	gl, ga, err := r.LoginByToken(ctx, l.TokenHash, clk.Now())
	if err != nil || gl.CSRF != "csrf" || ga.ID != a.ID || !gl.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("%+v %+v %v", gl, ga, err)
	}
	_, _, err = r.LoginByToken(ctx, l.TokenHash, clk.Now().Add(time.Hour))
	wantCode(t, "an expired login", err, facematch.ENOTFOUND)
	if err := r.DeleteLogin(ctx, l.TokenHash); err != nil {
		t.Fatal(err)
	}
	_, _, err = w.LoginByToken(ctx, l.TokenHash, clk.Now())
	wantCode(t, "a login after logout", err, facematch.ENOTFOUND)
}

// [FM-CON-3] [FM-CON-4] [FM-CON-5] What the console reads: organizations, applications, keys
// with their last use, a session by id, deliveries with their attempts (a test event's too),
// and the audit log.
func testConsoleReads(t *testing.T, open Open) {
	clk := NewClock()
	w, r := open(t, clk.Now), open(t, clk.Now)
	ctx := context.Background()
	o, app := seed(t, w, 10)
	clk.Add(time.Second)
	o2, _ := seed(t, w, 0)
	if orgs, err := r.ListOrganizations(ctx); err != nil || len(orgs) != 2 || orgs[0].ID != o.ID || orgs[1].ID != o2.ID {
		t.Fatalf("%+v %v", orgs, err)
	}
	if apps, err := r.ListApplications(ctx, o.ID); err != nil || len(apps) != 1 || apps[0].ID != app.ID || apps[0].Mode != facematch.ModeLive {
		t.Fatalf("%+v %v", apps, err)
	}
	if _, err := w.CreateAPIKey(ctx, facematch.APIKey{ID: "0123456789abcdef", AppID: app.ID, SecretHash: facematch.HashSecret("s")}); err != nil {
		t.Fatal(err)
	}
	keys, err := r.ListAPIKeys(ctx, app.ID)
	if err != nil || len(keys) != 1 || keys[0].LastUsed != nil || keys[0].RevokedAt != nil {
		t.Fatalf("%+v %v", keys, err)
	}
	clk.Add(time.Minute)
	if _, err := w.TakeRequest(ctx, "0123456789abcdef", "read", 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.RevokeAPIKey(ctx, "0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	keys, _ = r.ListAPIKeys(ctx, app.ID)
	if keys[0].LastUsed == nil || !keys[0].LastUsed.Equal(clk.Now()) || keys[0].Prefix != "fm_live_0123456789abcdef_" || keys[0].RevokedAt == nil {
		t.Fatalf("after a request and a revocation: %+v", keys[0])
	}

	d, err := w.CreateDestination(ctx, facematch.Destination{AppID: app.ID, Label: "crm", URL: "https://example.com/h", SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: "whsec_x"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := save(t, w, o, app, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.SessionByID(ctx, sess.ID); err != nil || got.AppID != app.ID || got.Number != sess.Number || got.Threshold != sess.Threshold {
		t.Fatalf("%+v %v", got, err)
	}
	_, err = r.SessionByID(ctx, requestID())
	wantCode(t, "an unknown session", err, facematch.ENOTFOUND)
	testID, err := w.EnqueueDelivery(ctx, d.ID, facematch.EventStatusUpdated, []byte(`{"test":true}`))
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := w.ClaimDeliveries(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	for _, del := range claimed {
		if err := w.FinishAttempt(ctx, del, facematch.Attempt{At: clk.Now(), StatusCode: 503, Latency: 12 * time.Millisecond, Err: "HTTP 503"}, ptr(clk.Now())); err != nil {
			t.Fatal(err)
		}
	}
	logs, err := r.SessionDeliveries(ctx, sess.ID)
	if err != nil || len(logs) != 1 || logs[0].Destination != "crm" || logs[0].State != "pending" || len(logs[0].Attempts) != 1 ||
		logs[0].Attempts[0].StatusCode != 503 || logs[0].Attempts[0].Latency != 12*time.Millisecond || logs[0].Attempts[0].Err != "HTTP 503" {
		t.Fatalf("session deliveries %+v %v", logs, err)
	}
	logs, err = r.DestinationDeliveries(ctx, d.ID, 10)
	if err != nil || len(logs) != 2 {
		t.Fatalf("destination deliveries %+v %v", logs, err)
	}
	found := false
	for _, l := range logs {
		found = found || (l.ID == testID && l.SessionID == "" && len(l.Attempts) == 1)
	}
	if !found {
		t.Fatalf("the test event is not in the log: %+v", logs)
	}
	if logs, _ := r.DestinationDeliveries(ctx, d.ID, 1); len(logs) != 1 {
		t.Fatalf("limit 1: %d", len(logs))
	}

	for i, e := range []facematch.AuditEntry{
		{Actor: "ana@example.com", OrgID: o.ID, Action: "key.create", Target: "k1"},
		{Actor: "ops@example.com", OrgID: o2.ID, Action: "credits.add", Target: o2.ID, Detail: "5 credits"},
		{Actor: "ana@example.com", OrgID: o.ID, Action: "session.delete", Target: sess.ID},
	} {
		e.At = clk.Now().Add(time.Duration(i) * time.Second)
		if err := w.RecordAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := r.AuditLog(ctx, "", 10)
	if err != nil || len(all) != 3 || all[0].Action != "session.delete" || all[2].Action != "key.create" || all[1].Detail != "5 credits" {
		t.Fatalf("audit log %+v %v", all, err)
	}
	mine, err := r.AuditLog(ctx, o.ID, 1)
	if err != nil || len(mine) != 1 || mine[0].Action != "session.delete" || !mine[0].At.Equal(clk.Now().Add(2*time.Second)) {
		t.Fatalf("one organization's latest: %+v %v", mine, err)
	}
}
