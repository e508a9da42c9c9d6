package conformance_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/facematch/facematch/conformance/internal/fixtures"
)

// areaConsole labels the specs of the web console (spec section 8).
const areaConsole = "console"

// consoleUser is an account made with `facematch user create` and a cookie-keeping client that
// does not follow redirects, so that each answer can be looked at.
type consoleUser struct {
	email, password string
	c               *http.Client
}

// newConsoleUser creates an account of the key's organization through the admin CLI.
func newConsoleUser(k Key, admin bool) *consoleUser {
	GinkgoHelper()
	run := needAdmin("creating a console account")
	email := "conformance-" + uuid.NewString()[:8] + "@example.com"
	args := []string{"user", "create", "--org", k.Tenant.OrgID, "--email", email}
	if admin {
		args = append(args, "--admin")
	}
	out, err := run(ctx(), args...)
	Expect(err).NotTo(HaveOccurred(), "facematch user create: %s", out)
	var created struct {
		ID       string  `json:"id"`
		Email    string  `json:"email"`
		Password *string `json:"password"`
	}
	Expect(json.Unmarshal(out, &created)).To(Succeed(), "user create printed %s", out)
	Expect(created.ID).NotTo(BeEmpty(), "user create printed no id: %s", out)
	Expect(created.Password).NotTo(BeNil(), "user create printed no generated password: %s", out)
	jar, _ := cookiejar.New(nil)
	return &consoleUser{email: email, password: *created.Password, c: &http.Client{
		Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// consolePage is an answer of the console.
type consolePage struct {
	Status int
	Header http.Header
	Body   string
	URL    *url.URL
}

func (u *consoleUser) get(path string) consolePage {
	GinkgoHelper()
	res, err := u.c.Get(env.Target.Main().BaseURL() + path)
	Expect(err).NotTo(HaveOccurred())
	return readPage(res)
}

func (u *consoleUser) post(path string, form url.Values) consolePage {
	GinkgoHelper()
	res, err := u.c.PostForm(env.Target.Main().BaseURL()+path, form)
	Expect(err).NotTo(HaveOccurred())
	return readPage(res)
}

func readPage(res *http.Response) consolePage {
	GinkgoHelper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	Expect(err).NotTo(HaveOccurred())
	return consolePage{Status: res.StatusCode, Header: res.Header, Body: string(b), URL: res.Request.URL}
}

var (
	formPattern  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputPattern = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrPattern  = regexp.MustCompile(`(?is)\b([a-z-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
)

// attrs reads the attributes of one tag.
func attrs(tag string) map[string]string {
	out := map[string]string{}
	for _, m := range attrPattern.FindAllStringSubmatch(tag, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(strings.Trim(m[2], `"'`))
	}
	return out
}

// loginForm finds the form with a password field: its action and its hidden fields.
func loginForm(page string) (action string, hidden url.Values) {
	GinkgoHelper()
	for _, f := range formPattern.FindAllStringSubmatch(page, -1) {
		if !regexp.MustCompile(`(?i)name\s*=\s*["']?password`).MatchString(f[2]) {
			continue
		}
		hidden = url.Values{}
		names := map[string]bool{}
		for _, in := range inputPattern.FindAllString(f[2], -1) {
			a := attrs(in)
			names[a["name"]] = true
			if strings.EqualFold(a["type"], "hidden") && a["name"] != "" {
				hidden.Set(a["name"], a["value"])
			}
		}
		Expect(names).To(HaveKey("email"), "the login form has no field named email")
		Expect(names).To(HaveKey("password"), "the login form has no field named password")
		return attrs("<form " + f[1] + ">")["action"], hidden
	}
	Fail("GET /console/login shows no form with a password field")
	return "", nil
}

// login loads /console/login and sends its form (hidden fields included, as a browser does)
// with the email and password; it returns the answer to the form.
func (u *consoleUser) login(email, password string) consolePage {
	GinkgoHelper()
	page := u.get("/console/login")
	Expect(page.Status).To(Equal(http.StatusOK), "GET /console/login")
	action, form := loginForm(page.Body)
	if action == "" {
		action = "/console/login"
	}
	form.Set("email", email)
	form.Set("password", password)
	target, err := page.URL.Parse(action)
	Expect(err).NotTo(HaveOccurred())
	return u.post(target.RequestURI(), form)
}

// loggedIn tells whether the client's session opens the sessions page.
func (u *consoleUser) loggedIn() bool {
	GinkgoHelper()
	return u.get("/console/sessions").Status == http.StatusOK
}

// setCookies are the cookies an answer sets (not those it deletes).
func setCookies(p consolePage) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			out = append(out, c)
		}
	}
	return out
}

var _ = Describe("Console", Label(areaConsole), func() {
	It("logs an account made with user create in through the form's email and password, with an HttpOnly SameSite=Lax cookie", Label("FM-CON-1"), func() {
		k := newTenant(10, false, "a console account")
		u := newConsoleUser(k, false)
		Expect(u.loggedIn()).To(BeFalse(), "the sessions page opens without logging in")
		wrong := u.login(u.email, u.password+"x")
		Expect(wrong.Status).NotTo(BeElementOf(http.StatusOK, http.StatusSeeOther, http.StatusFound), "a wrong password: %d", wrong.Status)
		Expect(u.loggedIn()).To(BeFalse(), "a wrong password logged in")
		res := u.login(u.email, u.password)
		Expect(res.Status).To(BeNumerically("<", 400), "logging in: %d", res.Status)
		cookies := setCookies(res)
		Expect(cookies).NotTo(BeEmpty(), "logging in set no cookie")
		for _, c := range cookies {
			Expect(c.HttpOnly).To(BeTrue(), "cookie %s is not HttpOnly", c.Name)
			Expect(c.SameSite).To(Equal(http.SameSiteLaxMode), "cookie %s is not SameSite=Lax", c.Name)
		}
		Expect(u.loggedIn()).To(BeTrue(), "after logging in, /console/sessions does not answer 200")
	})

	It("refuses the login form without its CSRF token with 403", Label("FM-CON-1"), func() {
		k := newTenant(10, false, "a console account")
		u := newConsoleUser(k, false)
		u.get("/console/login")
		res := u.post("/console/login", url.Values{"email": {u.email}, "password": {u.password}})
		Expect(res.Status).To(Equal(http.StatusForbidden), "a login form without its hidden token")
		Expect(u.loggedIn()).To(BeFalse())
	})

	It("locks an email after 5 failed logins in 15 minutes, the right password included", Label("FM-CON-1"), func() {
		k := newTenant(10, false, "a console account")
		u := newConsoleUser(k, false)
		for range 5 {
			u.login(u.email, "not-the-password-"+uuid.NewString()[:6])
		}
		u.login(u.email, u.password)
		Expect(u.loggedIn()).To(BeFalse(), "the right password logged in right after 5 failures")
		other := newConsoleUser(k, false)
		other.login(other.email, other.password)
		Expect(other.loggedIn()).To(BeTrue(), "another email of the organization is locked too")
	})

	It("lists the organization's sessions filtered by vendor_data, each linking to its page", Label("FM-CON-2"), func() {
		k := newTenant(10, false, "a console account")
		tag := "console-" + uuid.NewString()[:8]
		a := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2), "vendor_data", tag+"-a"))
		b := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonB), "vendor_data", tag+"-b"))
		u := newConsoleUser(k, false)
		u.login(u.email, u.password)
		page := u.get("/console/sessions?vendor_data=" + url.QueryEscape(tag+"-a"))
		Expect(page.Status).To(Equal(http.StatusOK))
		Expect(page.Body).To(ContainSubstring("/console/sessions/"+a.RequestID), "the matching session is not linked")
		Expect(page.Body).NotTo(ContainSubstring(b.RequestID), "a session of another vendor_data is listed")
		all := u.get("/console/sessions")
		Expect(all.Body).To(ContainSubstring("/console/sessions/" + a.RequestID))
		Expect(all.Body).To(ContainSubstring("/console/sessions/" + b.RequestID))
	})

	It("shows a session with both of its images", Label("FM-CON-3"), func() {
		k := newTenant(10, false, "a console account")
		fm := matchOf(faceMatch(k, photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		u := newConsoleUser(k, false)
		u.login(u.email, u.password)
		page := u.get("/console/sessions/" + fm.RequestID)
		Expect(page.Status).To(Equal(http.StatusOK))
		var loaded int
		for _, tag := range regexp.MustCompile(`(?is)<img\b[^>]*>`).FindAllString(page.Body, -1) {
			src, err := page.URL.Parse(attrs(tag)["src"])
			Expect(err).NotTo(HaveOccurred())
			res, err := u.c.Get(src.String())
			Expect(err).NotTo(HaveOccurred())
			img := readPage(res)
			if img.Status == http.StatusOK && strings.HasPrefix(img.Header.Get("Content-Type"), "image/") {
				loaded++
			}
		}
		Expect(loaded).To(BeNumerically(">=", 2), "the session's page shows %d loadable images", loaded)
	})

	It("shows the organization's balance on the overview", Label("FM-CON-4"), func() {
		k := newTenant(37, false, "a console account")
		u := newConsoleUser(k, false)
		u.login(u.email, u.password)
		page := u.get("/console/")
		Expect(page.Status).To(Equal(http.StatusOK))
		Expect(page.Body).To(MatchRegexp(`\b`+strconv.Itoa(37)+`\b`), "the overview does not show the balance")
	})

	It("answers 404 to another organization's session, and shows it to an admin", Label("FM-CON-5"), func() {
		mine := newTenant(10, false, "a console account")
		theirs := newTenant(10, false, "a console account")
		fm := matchOf(faceMatch(theirs, photo(fixtures.PersonA1), photo(fixtures.PersonA2)))
		u := newConsoleUser(mine, false)
		u.login(u.email, u.password)
		Expect(u.get("/console/sessions/" + fm.RequestID).Status).To(Equal(http.StatusNotFound))
		Expect(u.get("/console/sessions").Body).NotTo(ContainSubstring(fm.RequestID))
		admin := newConsoleUser(mine, true)
		admin.login(admin.email, admin.password)
		Expect(admin.get("/console/sessions/"+fm.RequestID).Status).To(Equal(http.StatusOK), "an admin account does not see every organization")
	})
})
