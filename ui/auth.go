package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// cookieName holds a browser's proof that it presented the token.
const cookieName = "stashflow-ui"

// tokenAuth lets a request through if it carries the bearer token: in an
// Authorization header, in the cookie set by an earlier ?token=, or in a
// ?token= query parameter, which is then exchanged for the cookie and
// removed from the address (a redirect) so that it stays out of the
// browser's history and of Referer headers.
//
// Comparisons are constant-time over SHA-256 digests, so that neither the
// token's content nor its length leaks through timing. The cookie holds an
// HMAC of the token, not the token itself.
type tokenAuth struct {
	digest [sha256.Size]byte
	cookie string
	secure bool
}

func newTokenAuth(token string, secure bool) *tokenAuth {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("stashflow-ui-cookie/v1"))
	return &tokenAuth{digest: sha256.Sum256([]byte(token)), cookie: hex.EncodeToString(mac.Sum(nil)), secure: secure}
}

func (a *tokenAuth) tokenOK(presented string) bool {
	d := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(d[:], a.digest[:]) == 1
}

func (a *tokenAuth) cookieOK(value string) bool {
	d1, d2 := sha256.Sum256([]byte(value)), sha256.Sum256([]byte(a.cookie))
	return subtle.ConstantTimeCompare(d1[:], d2[:]) == 1
}

func (a *tokenAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, token, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") && a.tokenOK(strings.TrimSpace(token)) {
				next.ServeHTTP(w, r)
				return
			}
			unauthorized(w, r)
			return
		}
		q := r.URL.Query()
		if q.Has("token") {
			if !a.tokenOK(q.Get("token")) {
				unauthorized(w, r)
				return
			}
			http.SetCookie(w, &http.Cookie{
				Name: cookieName, Value: a.cookie, Path: "/",
				HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode,
			})
			q.Del("token")
			// The same path, never another host: "//host/x" would be
			// one for the browser.
			u := url.URL{Path: "/" + strings.TrimLeft(r.URL.Path, "/\\"), RawQuery: q.Encode()}
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil && a.cookieOK(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		unauthorized(w, r)
	})
}

func unauthorized(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="stashflow"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("401 unauthorized: send the UI's token as \"Authorization: Bearer <token>\", or open any page once with ?token=<token>\n"))
}
