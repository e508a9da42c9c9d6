package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/facematch/facematch"
)

// loginCSRFCookie holds the token the login form must send back: the form changes state (it
// opens a session), so it is protected like every other form (FM-CON-1).
const loginCSRFCookie = "fm_console_login"

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// dummyHash keeps a login of an unknown email as slow as one of a known email.
var dummyHash, _ = HashPassword("not-a-password-of-anyone")

type loginData struct {
	Email     string
	LoginCSRF string
}

// loginForm serves the login page with a fresh CSRF token in a cookie and in the form.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, email, msg string) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name: loginCSRFCookie, Value: token, Path: "/console/login", HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: 3600,
	})
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, status, "login", page{Title: "Log in", Error: msg, Data: loginData{Email: email, LoginCSRF: token}})
}

// login checks a password and opens a session. Five failures for one email within 15 minutes
// lock it for 15 minutes, the right password included (FM-CON-1).
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		c.forbidden(w, r, "This form has no valid CSRF token. Reload the login page and try again.")
		return
	}
	ctx := r.Context()
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	if email == "" || password == "" {
		c.showLogin(w, r, http.StatusBadRequest, email, "Enter your email and password.")
		return
	}
	now := c.cfg.Now()
	if until, err := c.cfg.Store.LoginLockedUntil(ctx, email, now); err != nil {
		c.fail(w, r, err)
		return
	} else if until != nil {
		c.showLogin(w, r, http.StatusTooManyRequests, email, lockedMessage(*until, now))
		return
	}
	acct, err := c.cfg.Store.AccountByEmail(ctx, email)
	known := err == nil
	if err != nil && facematch.ErrorCode(err) != facematch.ENOTFOUND {
		c.fail(w, r, err)
		return
	}
	hash := dummyHash
	if known {
		hash = acct.PasswordHash
	}
	if !PasswordMatches(hash, password) || !known {
		until, err := c.cfg.Store.LoginFailed(ctx, email, now, MaxFailedLogins, FailureWindow, LockFor)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if until != nil {
			c.showLogin(w, r, http.StatusTooManyRequests, email, lockedMessage(*until, now))
			return
		}
		c.showLogin(w, r, http.StatusUnauthorized, email, "Wrong email or password.")
		return
	}
	if err := c.cfg.Store.LoginSucceeded(ctx, email); err != nil {
		c.fail(w, r, err)
		return
	}
	token := randomToken()
	l := facematch.Login{TokenHash: hashToken(token), AccountID: acct.ID, CSRF: randomToken(), CreatedAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL)}
	if err := c.cfg.Store.CreateLogin(ctx, l); err != nil {
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/console/login", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: Prefix, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode,
		Expires: l.ExpiresAt,
	})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func lockedMessage(until, now time.Time) string {
	mins := int(until.Sub(now).Minutes()) + 1
	return "Too many failed logins for this email: it is locked for " + itoa(mins) + " more minute(s)."
}

// logout ends the login on the server and clears the cookie.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if err := c.cfg.Store.DeleteLogin(r.Context(), viewerOf(r).Login.TokenHash); err != nil {
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
