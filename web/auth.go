package web

// Who may use the server: whoever holds the login token (DESIGN.md §12). It lives in a file
// of the user's alone beside the store, so `serve --print-url` can show it again and a link
// sent to the person's phone stays good across restarts.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/teamctl/teamctl/orchestrator"
)

const (
	tokenFile  = "serve.token"
	urlFile    = orchestrator.ServeURLFile
	cookieName = "teamctl_token"
	csrfField  = "csrf"
	csrfHeader = "X-Teamctl-CSRF"
)

// Token is the login token kept in dir, made (32 random bytes, hex, mode 0600) when there is
// none yet.
func Token(dir string) (string, error) {
	path := filepath.Join(dir, tokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= 32 {
			return tok, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the login token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := writePrivate(path, tok+"\n"); err != nil {
		return "", fmt.Errorf("keep the login token: %w", err)
	}
	return tok, nil
}

// SaveURL keeps the login URL a server printed, for orchestrator.ServedURL.
func SaveURL(dir, url string) error { return writePrivate(filepath.Join(dir, urlFile), url+"\n") }

// writePrivate writes content to path, readable by the user alone, through a rename.
func writePrivate(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // a tmp left by an older run may be wider
		return err
	}
	return os.Rename(tmp, path)
}

// csrfToken is what a form of the server's own pages carries: derived from the login
// token, so a page of another site, which has neither, cannot make one.
func csrfToken(token string) string {
	sum := sha256.Sum256([]byte("teamctl csrf\x00" + token))
	return hex.EncodeToString(sum[:16])
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// how says how a request proved it holds the token: "" (it does not), "bearer", "cookie"
// or "query" (a login link).
func (s *Server) how(r *http.Request) string {
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && same(strings.TrimSpace(h), s.token) {
		return "bearer"
	}
	if q := r.URL.Query().Get("token"); q != "" && same(q, s.token) {
		return "query"
	}
	if c, err := r.Cookie(cookieName); err == nil && same(c.Value, s.token) {
		return "cookie"
	}
	return ""
}

// guard lets through what holds the token. A login link sets the cookie and sends the
// browser on without the token in its address bar. An action (a POST) made with the cookie
// must carry the page's CSRF token too; with --read-only every action is refused.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		how := s.how(r)
		if how == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="teamctl"`)
			httpError(w, r, http.StatusUnauthorized, "this teamctl serve needs its login token: open the link it printed (teamctl serve --print-url shows it again)")
			return
		}
		if how == "query" {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			if r.Method == http.MethodGet {
				u := *r.URL
				q := u.Query()
				q.Del("token")
				u.RawQuery = q.Encode()
				http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if s.readOnly {
				httpError(w, r, http.StatusForbidden, "this teamctl serve is read-only (--read-only): it shows everything and changes nothing")
				return
			}
			if how == "cookie" && !same(r.Header.Get(csrfHeader), s.csrf) && !same(r.PostFormValue(csrfField), s.csrf) {
				httpError(w, r, http.StatusForbidden, "the action did not come from teamctl's own page (no CSRF token): reload the page and try again")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
