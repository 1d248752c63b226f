package console

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/websession"
)

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
	h.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Tenant: t.Name, Next: safeNext(t, r.URL.Query().Get("next"))})
}

// signIn checks the password (throttled per account and per IP, as on the
// authorize page) and starts the session both share.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, t *store.Tenant) {
	ctx := r.Context()
	v := view{Title: "Sign in", Tenant: t.Name}
	if err := parseForm(w, r); err != nil {
		v.Error = err.(*protocol.Error).Description
		h.render(w, r, err.(*protocol.Error).Status, "signin", v)
		return
	}
	v.Email = store.EmailKey(strings.TrimSpace(r.PostForm.Get("email")))
	v.Next = safeNext(t, r.PostForm.Get("next"))
	if wait, ok := websession.ThrottleLogin(ctx, h.Limiter, audit.MetaFrom(ctx).IP, t.ID, v.Email); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		v.Error = "Too many sign-in attempts. Wait a few minutes and try again."
		h.render(w, r, http.StatusTooManyRequests, "signin", v)
		return
	}
	u, err := h.Users.Login(ctx, t.ID, v.Email, r.PostForm.Get("password"))
	if err != nil {
		h.Audit.Record(audit.New(ctx, h.Now(), t.ID, "user:"+protocol.Clean(v.Email, 254), audit.UserLoginFailed, "console", audit.Failure))
		v.Error = "The email or password is not right."
		h.render(w, r, http.StatusUnauthorized, "signin", v)
		return
	}
	if err := h.Audit.Write(ctx, audit.New(ctx, h.Now(), t.ID, "user:"+u.ID, audit.UserLogin, "console", audit.Success)); err != nil {
		h.Log.Error("console: record sign-in", "err", err)
		v.Error = "Signing in is not possible right now. Try again in a moment."
		h.render(w, r, http.StatusServiceUnavailable, "signin", v)
		return
	}
	h.Sessions.Set(w, t.ID, u.ID)
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, c *caller) error {
	ev := h.event(r, c, audit.UserLogout, "console")
	recorded, err := h.Sessions.End(w, r, ev)
	if err != nil {
		return err
	}
	if !recorded {
		h.Audit.Record(ev)
	}
	http.Redirect(w, r, c.path("signin"), http.StatusSeeOther)
	return nil
}

// safeNext keeps a post-sign-in destination inside the tenant's console
// (no open redirect).
func safeNext(t *store.Tenant, next string) string {
	base := "/console/" + t.Name + "/"
	if !strings.HasPrefix(next, base) || strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "//") || strings.Contains(next, "/..") {
		return base
	}
	return next
}
