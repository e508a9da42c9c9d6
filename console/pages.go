package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch"
	"github.com/facematch/facematch/imageinfo"
	"github.com/facematch/facematch/webhook"
)

// scopeOrg is the organization a page shows: the account's own, or for an admin the one named
// by ?org= (FM-CON-5).
func (c *Console) scopeOrg(r *http.Request) (facematch.Organization, error) {
	v := viewerOf(r)
	id := v.Account.OrgID
	if o := r.URL.Query().Get("org"); o != "" {
		if !canSee(v, o) {
			return facematch.Organization{}, facematch.Errorf(facematch.ENOTFOUND, "not found")
		}
		id = o
	}
	return c.cfg.Store.Organization(r.Context(), id)
}

type overviewData struct {
	Org   facematch.Organization
	Apps  []facematch.Application
	Chart chart
	Total int
}

// overview shows the organization's balance, its saved calls per day for 30 days and its
// applications (FM-CON-4).
func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	org, err := c.scopeOrg(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	apps, err := c.cfg.Store.ListApplications(r.Context(), org.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	today := c.cfg.Now().UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -29)
	days, err := c.cfg.Store.DailyCounts(r.Context(), org.ID, from)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ch := drawChart(from, 30, days)
	c.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", OrgName: org.Name,
		Data: overviewData{Org: org, Apps: apps, Chart: ch, Total: ch.Total}})
}

type sessionRow struct {
	facematch.Session
	AppName string
}

type sessionsData struct {
	Org      facematch.Organization
	Apps     []facematch.Application
	Q        url.Values
	Rows     []sessionRow
	Count    int
	From, To int
	Next     string
	Previous string
	Invalid  facematch.FieldErrors
}

// sessions lists the organization's saved sessions across its applications, newest first, 50
// a page, filtered by vendor_data, search, status, app, date_from and date_to (FM-CON-2).
func (c *Console) sessions(w http.ResponseWriter, r *http.Request) {
	org, err := c.scopeOrg(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	apps, err := c.cfg.Store.ListApplications(r.Context(), org.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	q.Del("limit")
	f, invalid := facematch.ParseSessionQuery(q)
	f.Limit = PageSize
	f.OrgID = org.ID
	names := map[string]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	if app := q.Get("app"); app != "" {
		if _, ok := names[app]; !ok {
			invalid.Add("app", "Select one of the organization's applications.")
		}
		f.AppID, f.OrgID = app, ""
	}
	d := sessionsData{Org: org, Apps: apps, Q: q, Invalid: invalid, Rows: []sessionRow{}}
	status := http.StatusOK
	if len(invalid) > 0 {
		status = http.StatusBadRequest
	} else {
		p, err := c.cfg.Store.QuerySessions(r.Context(), f)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Count = p.Count
		for _, s := range p.Sessions {
			d.Rows = append(d.Rows, sessionRow{Session: s, AppName: names[s.AppID]})
		}
		if len(d.Rows) > 0 {
			d.From, d.To = f.Offset+1, f.Offset+len(d.Rows)
		}
		if f.Offset+PageSize < p.Count {
			d.Next = withOffset(q, f.Offset+PageSize)
		}
		if f.Offset > 0 {
			d.Previous = withOffset(q, max(0, f.Offset-PageSize))
		}
	}
	c.render(w, r, status, "sessions", page{Title: "Sessions", Nav: "sessions", OrgName: org.Name, Data: d})
}

func withOffset(q url.Values, offset int) string {
	n := url.Values{}
	for k, v := range q {
		n[k] = v
	}
	if offset > 0 {
		n.Set("offset", strconv.Itoa(offset))
	} else {
		n.Del("offset")
	}
	return "/console/sessions?" + n.Encode()
}

type faceImage struct {
	Label    string
	URL      string
	Width    int // the displayed image's size: after EXIF orientation and the matcher's rotation
	Height   int
	ImgStyle string
	Boxes    []box
	Angle    int
}

type box struct {
	X, Y, W, H int
	Compared   bool
}

type sessionData struct {
	Session    facematch.Session
	App        facematch.Application
	Images     []faceImage
	Threshold  float64
	ScorePct   float64
	Metadata   string
	Deliveries []facematch.DeliveryLog
}

// session shows one session: both images with their faces' boxes and the compared pair marked,
// the score against the threshold, warnings, metadata and every webhook delivery with each
// attempt (FM-CON-3).
func (c *Console) session(w http.ResponseWriter, r *http.Request) {
	s, app, err := c.visibleSession(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	base := c.baseURL(r)
	var images []faceImage
	for _, im := range []struct {
		label, kind string
		res         facematch.ImageResult
	}{{"User image (target)", facematch.ImageTarget, s.FaceMatch.User}, {"Reference image (source)", facematch.ImageSource, s.FaceMatch.Ref}} {
		stored, err := c.cfg.Store.SessionImage(r.Context(), s.ID, im.kind)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		images = append(images, imageView(im.label, c.cfg.MediaURL(base, s.ID, im.kind), stored.Data, im.res))
	}
	deliveries, err := c.cfg.Store.SessionDeliveries(r.Context(), s.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := sessionData{Session: s, App: app, Images: images, Threshold: s.Threshold, Deliveries: deliveries}
	if s.FaceMatch.Score != nil {
		d.ScorePct = *s.FaceMatch.Score
	}
	if s.Metadata != nil {
		var pretty bytes.Buffer
		if json.Indent(&pretty, s.Metadata, "", "  ") == nil {
			d.Metadata = pretty.String()
		} else {
			d.Metadata = string(s.Metadata)
		}
	}
	c.render(w, r, http.StatusOK, "session", page{Title: "Session " + strconv.FormatInt(s.Number, 10), Nav: "sessions", Data: d})
}

// imageView places an image and its faces' boxes. The boxes are in pixels of the image after
// its EXIF orientation and the matcher's rotation (best_angle, clockwise); the browser applies
// the orientation, and the page turns the image by the angle, so the boxes land on the faces.
func imageView(label, src string, data []byte, res facematch.ImageResult) faceImage {
	fi := faceImage{Label: label, URL: src, Angle: res.BestAngle}
	w, h := 1, 1
	if hd, err := imageinfo.ReadHeader(data); err == nil {
		w, h = hd.OrientedSize()
	}
	dw, dh := w, h
	if res.BestAngle == 90 || res.BestAngle == 270 {
		dw, dh = h, w
	}
	fi.Width, fi.Height = dw, dh
	fi.ImgStyle = "width:" + pct(w, dw) + ";height:" + pct(h, dh) + ";transform:translate(-50%,-50%) rotate(" + strconv.Itoa(res.BestAngle) + "deg)"
	largest, area := -1, 0
	for i, e := range res.Entities {
		b := box{X: e.BBox[0], Y: e.BBox[1], W: e.BBox[2] - e.BBox[0], H: e.BBox[3] - e.BBox[1]}
		if b.W*b.H > area {
			largest, area = i, b.W*b.H
		}
		fi.Boxes = append(fi.Boxes, b)
	}
	if largest >= 0 {
		fi.Boxes[largest].Compared = true
	}
	return fi
}

func pct(a, b int) string {
	return strconv.FormatFloat(float64(a)*100/float64(b), 'f', 4, 64) + "%"
}

// visibleSession returns the {id} session when the viewer may see it, ENOTFOUND otherwise.
func (c *Console) visibleSession(r *http.Request) (facematch.Session, facematch.Application, error) {
	s, err := c.cfg.Store.SessionByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return s, facematch.Application{}, err
	}
	app, err := c.cfg.Store.Application(r.Context(), s.AppID)
	if err != nil {
		return s, app, err
	}
	if !canSee(viewerOf(r), app.OrgID) {
		return s, app, facematch.Errorf(facematch.ENOTFOUND, "not found")
	}
	return s, app, nil
}

// deleteSession removes a session and its images once the form confirms it (FM-CON-3).
func (c *Console) deleteSession(w http.ResponseWriter, r *http.Request) {
	s, app, err := c.visibleSession(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		c.badRequest(w, r, "Tick the box to confirm that the session and its images are to be deleted.")
		return
	}
	if err := c.cfg.Store.DeleteSession(r.Context(), app.ID, s.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, app.OrgID, "session.delete", s.ID, "application "+app.Name); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/sessions?org="+url.QueryEscape(app.OrgID), http.StatusSeeOther)
}

type appData struct {
	App          facematch.Application
	Keys         []facematch.KeyInfo
	Destinations []facematch.Destination
	NewKey       string
	NewSecret    string
	SecretFor    string
}

// application shows an application's keys and webhook destinations (FM-CON-4).
func (c *Console) application(w http.ResponseWriter, r *http.Request) {
	c.showApp(w, r, http.StatusOK, appData{}, "")
}

func (c *Console) showApp(w http.ResponseWriter, r *http.Request, status int, d appData, flash string) {
	app, err := c.app(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.App = app
	if d.Keys, err = c.cfg.Store.ListAPIKeys(r.Context(), app.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	if d.Destinations, err = c.cfg.Store.Destinations(r.Context(), app.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, "app", page{Title: app.Name, Nav: "overview", Flash: flash, Data: d})
}

// createKey draws a key and shows it once (FM-CON-4, FM-AUTH-2).
func (c *Console) createKey(w http.ResponseWriter, r *http.Request) {
	app, err := c.app(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	id, secret, full := facematch.NewAPIKey(app.Mode)
	if _, err := c.cfg.Store.CreateAPIKey(r.Context(), facematch.APIKey{ID: id, AppID: app.ID, SecretHash: facematch.HashSecret(secret)}); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, app.OrgID, "key.create", id, "application "+app.Name); err != nil {
		c.fail(w, r, err)
		return
	}
	c.showApp(w, r, http.StatusCreated, appData{NewKey: full}, "Key created. Copy it now: it is not shown again.")
}

// revokeKey revokes a key of the application.
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request) {
	app, err := c.app(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	keys, err := c.cfg.Store.ListAPIKeys(r.Context(), app.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	id := r.PathValue("key")
	found := false
	for _, k := range keys {
		found = found || k.ID == id
	}
	if !found {
		c.notFound(w, r)
		return
	}
	if err := c.cfg.Store.RevokeAPIKey(r.Context(), id); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, app.OrgID, "key.revoke", id, "application "+app.Name); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/apps/"+app.ID, http.StatusSeeOther)
}

// createDestination adds a webhook destination subscribed to status.updated; its secret is
// shown once. The URL is checked like the API checks it (FM-WH-5).
func (c *Console) createDestination(w http.ResponseWriter, r *http.Request) {
	app, err := c.app(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	label, raw := strings.TrimSpace(r.PostFormValue("label")), strings.TrimSpace(r.PostFormValue("url"))
	if label == "" || raw == "" {
		c.badRequest(w, r, "A destination needs a label and a URL.")
		return
	}
	if c.cfg.CheckURL != nil {
		if err := c.cfg.CheckURL(r.Context(), raw); err != nil {
			c.badRequest(w, r, "This URL cannot receive webhooks: "+err.Error())
			return
		}
	}
	d, err := c.cfg.Store.CreateDestination(r.Context(), facematch.Destination{
		AppID: app.ID, Label: label, URL: raw, SubscribedEvents: []string{facematch.EventStatusUpdated}, Enabled: true, Secret: webhook.NewSecret(),
	})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.showApp(w, r, http.StatusCreated, appData{NewSecret: d.Secret, SecretFor: d.ID}, "Destination created. Copy its secret now: it is shown again only when rotated.")
}

// destinationOf returns the {dest} of the {app} when the viewer may see them.
func (c *Console) destinationOf(r *http.Request) (facematch.Application, facematch.Destination, error) {
	app, err := c.app(r)
	if err != nil {
		return app, facematch.Destination{}, err
	}
	d, err := c.cfg.Store.Destination(r.Context(), app.ID, r.PathValue("dest"))
	return app, d, err
}

type destinationData struct {
	App        facematch.Application
	Dest       facematch.Destination
	Deliveries []facematch.DeliveryLog
	NewSecret  string
}

// destination shows a destination and its delivery log, every attempt of its latest 100
// deliveries (FM-CON-4).
func (c *Console) destination(w http.ResponseWriter, r *http.Request) {
	c.showDestination(w, r, "", "")
}

func (c *Console) showDestination(w http.ResponseWriter, r *http.Request, secret, flash string) {
	app, d, err := c.destinationOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	log, err := c.cfg.Store.DestinationDeliveries(r.Context(), d.ID, 100)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "destination", page{Title: d.Label, Nav: "overview", Flash: flash,
		Data: destinationData{App: app, Dest: d, Deliveries: log, NewSecret: secret}})
}

// setEnabled enables or disables a destination.
func (c *Console) setEnabled(w http.ResponseWriter, r *http.Request) {
	app, d, err := c.destinationOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	on := r.PostFormValue("enabled") == "true"
	if _, err := c.cfg.Store.UpdateDestination(r.Context(), app.ID, d.ID, facematch.DestinationUpdate{Enabled: &on}); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/apps/"+app.ID+"/destinations/"+d.ID, http.StatusSeeOther)
}

// rotateSecret gives a destination a new secret and shows it once.
func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request) {
	app, d, err := c.destinationOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	secret := webhook.NewSecret()
	if _, err := c.cfg.Store.UpdateDestination(r.Context(), app.ID, d.ID, facematch.DestinationUpdate{Secret: &secret}); err != nil {
		c.fail(w, r, err)
		return
	}
	c.showDestination(w, r, secret, "Secret rotated. Copy it now: it is not shown again.")
}

// testEvent queues a signed status.updated event marked as a test for the destination, whatever
// it subscribes to; its attempts appear in the delivery log.
func (c *Console) testEvent(w http.ResponseWriter, r *http.Request) {
	app, d, err := c.destinationOf(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	now := c.cfg.Now()
	vendor := "console-test-event"
	body, err := webhook.CanonicalOf(map[string]any{
		"session_id": "00000000-0000-0000-0000-000000000000", "status": facematch.StatusApproved,
		"webhook_type": facematch.EventStatusUpdated, "vendor_data": vendor, "metadata": map[string]any{"test": true},
		"workflow_id": nil, "timestamp": now.Unix(), "created_at": now.Unix(), "decision": nil, "test": true,
	})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if _, err := c.cfg.Store.EnqueueDelivery(r.Context(), d.ID, facematch.EventStatusUpdated, body); err != nil {
		c.fail(w, r, err)
		return
	}
	c.cfg.Notify()
	http.Redirect(w, r, "/console/apps/"+app.ID+"/destinations/"+d.ID+"?sent=1", http.StatusSeeOther)
}

type orgsData struct {
	Orgs []facematch.Organization
}

// organizations lists every organization with its balance, for admins (FM-CON-5).
func (c *Console) organizations(w http.ResponseWriter, r *http.Request) {
	orgs, err := c.cfg.Store.ListOrganizations(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "organizations", page{Title: "Organizations", Nav: "admin", Data: orgsData{Orgs: orgs}})
}

// createOrganization creates an organization with an initial balance.
func (c *Console) createOrganization(w http.ResponseWriter, r *http.Request) {
	credits, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("credits")), 10, 64)
	if err != nil || credits < 0 {
		c.badRequest(w, r, "Initial credits must be a whole number, 0 or more.")
		return
	}
	o, err := c.cfg.Store.CreateOrganization(r.Context(), r.PostFormValue("name"), credits)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, o.ID, "org.create", o.ID, o.Name+", "+strconv.FormatInt(credits, 10)+" credits"); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/admin/organizations", http.StatusSeeOther)
}

// addCredits adds (or, when negative, removes) credits of an organization.
func (c *Console) addCredits(w http.ResponseWriter, r *http.Request) {
	amount, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("amount")), 10, 64)
	if err != nil || amount == 0 {
		c.badRequest(w, r, "The amount must be a whole number other than 0 (negative removes credits).")
		return
	}
	o, err := c.cfg.Store.AddCredits(r.Context(), r.PathValue("org"), amount)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.record(r, o.ID, "credits.add", o.ID, strconv.FormatInt(amount, 10)+" credits, balance "+strconv.FormatInt(o.Credits, 10)); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/admin/organizations", http.StatusSeeOther)
}

type auditData struct {
	Entries []facematch.AuditEntry
}

// audit shows the latest 500 entries of the audit log to admins (FM-CON-5).
func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	entries, err := c.cfg.Store.AuditLog(r.Context(), r.URL.Query().Get("org"), 500)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: auditData{Entries: entries}})
}
