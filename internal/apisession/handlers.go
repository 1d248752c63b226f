package apisession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/sessions"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// body reads a JSON object of strings (protocol.ParseBody: size cap,
// repeats refused); forms are not part of this API.
func body(w http.ResponseWriter, r *http.Request) (protocol.Params, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return nil, protocol.ErrInvalidRequest.WithDescription("Content-Type must be application/json") // RFC 6749 §5.2
	}
	p, perr := protocol.ParseBody(w, r)
	if perr != nil {
		return nil, perr
	}
	return p, nil
}

// fail renders err: refresh_too_early carries the seconds to wait in the
// body and in Retry-After; the rest are RFC 6749 §5.2 errors.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	var early *tooEarlyError
	if errors.As(err, &early) {
		secs := waitSeconds(early.wait)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		protocol.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "refresh_too_early",
			"error_description": "the access token is still valid: refresh after it expires (retry_after seconds)", "retry_after": secs})
		return
	}
	protocol.WriteError(w, err, h.Log)
}

func (h *Handler) respond(w http.ResponseWriter, access string, ttl time.Duration, refresh string) {
	w.Header().Set("Cache-Control", "no-store")
	protocol.WriteJSON(w, http.StatusOK, pair{AccessToken: access, RefreshToken: refresh, ExpiresIn: int64(ttl / time.Second), TokenType: "Bearer"})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := h.doLogin(w, r); err != nil {
		h.fail(w, err)
	}
}

func (h *Handler) doLogin(w http.ResponseWriter, r *http.Request) error {
	p, err := body(w, r)
	if err != nil {
		return err
	}
	raw := p.Get("api_key")
	if raw == "" {
		return protocol.ErrInvalidRequest.WithDescription("api_key is required")
	}
	ctx, now := r.Context(), h.Now()
	k, t, err := h.key(ctx, raw, now)
	if err != nil {
		return err
	}
	if err := h.throttle(ctx, k, t, now); err != nil {
		return err
	}
	req, scopes, err := h.subject(ctx, k, t)
	if err != nil {
		return err
	}
	if k.UserID != "" && len(scopes) == 0 {
		// A session would carry nothing; and an empty scope is how tokens
		// from before sessions carried their scope read (authn).
		return protocol.ErrInvalidGrant.WithDescription("the API key's user holds no scopes: ask an administrator for a role")
	}
	req.Scope = strings.Join(scopes, " ")
	f := &store.RefreshFamily{ID: secret.NewID("rf"), APIKeyID: k.ID, TenantID: t.ID, UserID: k.UserID, Scope: req.Scope,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(settingsOf(t).lifetime), Generation: 1, RotatedAt: now}
	if k.UserID == "" {
		f.ClientID = k.ClientID
	}
	req.SessionID = f.ID
	m, err := h.Tokens.Mint(ctx, *req)
	if err != nil {
		return err
	}
	f.AccessTokens = sessions.Issued(nil, m.Claims.ID, m.Claims.ExpiresAt(), now)
	refresh := secret.New(secret.RefreshToken)
	ev := audit.New(ctx, now, t.ID, "api_key:"+k.ID, audit.APISessionLogin, f.ID, audit.Success)
	if err := h.Store.CreateFamily(ctx, f, secret.Hash(refresh).String(), ev); err != nil {
		return err
	}
	if err := h.Store.RecordAPIKeyLogin(ctx, k.ID, now); err != nil {
		h.Log.Warn("recording an API key login", "err", err)
	}
	h.respond(w, m.Token, req.TTL, refresh)
	return nil
}

// key finds a live API key and its tenant.
func (h *Handler) key(ctx context.Context, raw string, now time.Time) (*store.APIKey, *store.Tenant, error) {
	if secret.Parse(raw, secret.APIKey) != nil {
		return nil, nil, errBadKey // checksum and form decided without a lookup
	}
	k, err := h.Store.GetAPIKeyByDigest(ctx, secret.Hash(raw).String())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errBadKey
	}
	if err != nil {
		return nil, nil, err
	}
	if k.Status(now) != store.PATActive {
		return nil, nil, errBadKey
	}
	t, err := h.Store.GetTenantByID(ctx, k.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errBadKey
	}
	return k, t, err
}

// throttle counts a login of the key (GCRA, the tenant's logins per
// hour); above it the login is refused and a security event recorded.
// Refreshes never come here.
func (h *Handler) throttle(ctx context.Context, k *store.APIKey, t *store.Tenant, now time.Time) error {
	n := settingsOf(t).loginsPerHour
	res, err := h.Limiter.Allow(ctx, "apikey-login:"+k.ID, ratelimit.Limit{Count: n, Period: time.Hour})
	if err != nil {
		return protocol.ErrUnavailable.WithDescription("login throttle unavailable")
	}
	if res.Allowed {
		return nil
	}
	ev := audit.New(ctx, now, t.ID, "api_key:"+k.ID, audit.SecurityAPIKeyLoginThrottled, k.ID, audit.Failure)
	ev.Detail = map[string]any{"logins_per_hour": n, "retry_after_seconds": waitSeconds(res.RetryAfter)}
	if err := h.Audit.Write(ctx, ev); err != nil { // a security event: durable before the answer
		h.Log.Error("api session: record throttled login", "err", err)
	}
	if h.Alert != nil {
		// One alert per key per hour of throttling, however many logins
		// are refused in it.
		dedup := fmt.Sprintf("throttle:%s:%d", k.ID, now.Unix()/3600)
		alert := webhook.APIKeyLoginThrottled{APIKeyID: k.ID, LoginsPerHour: n, RetryAfterSeconds: int(waitSeconds(res.RetryAfter))}
		if err := h.Alert(ctx, t.ID, webhook.TypeAPIKeyLoginThrottled, dedup, alert); err != nil {
			h.Log.Warn("api-key login throttle: webhook not queued", "tenant", t.ID, "err", err)
		}
	}
	return protocol.ErrTooManyRequests.WithRetryAfter(res.RetryAfter).
		WithDescription("too many logins with this API key: keep the refresh token and use /auth/refresh")
}

func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	if err := h.doRefresh(w, r); err != nil {
		h.fail(w, err)
	}
}

func (h *Handler) doRefresh(w http.ResponseWriter, r *http.Request) error {
	p, err := body(w, r)
	if err != nil {
		return err
	}
	raw := p.Get("refresh_token")
	if raw == "" {
		return protocol.ErrInvalidRequest.WithDescription("refresh_token is required")
	}
	ctx, now := r.Context(), h.Now()
	if secret.Parse(raw, secret.RefreshToken) != nil {
		return errBadRefresh
	}
	digest := secret.Hash(raw).String()
	f, gen, err := h.Store.GetFamilyByToken(ctx, digest)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.APIKeyID == "") {
		return errBadRefresh // the refresh_token grant's families are not sessions
	}
	if err != nil {
		return err
	}
	t, err := h.Store.GetTenantByID(ctx, f.TenantID)
	if err != nil {
		return err
	}
	policy := sessions.Policy{EarlyRefresh: true, Skew: settingsOf(t).skew}
	// A cheap first look, decided again under the family's lock: a
	// premature refresh mints nothing.
	if d := sessions.Decide(f, gen, now, policy); d.Outcome == sessions.TooEarly {
		return &tooEarlyError{d.Wait}
	}
	k, err := h.Store.GetAPIKey(ctx, f.APIKeyID)
	if err != nil {
		return err
	}
	if k.Status(now) != store.PATActive {
		return errBadRefresh
	}
	req, holder, err := h.subject(ctx, k, t)
	if err != nil {
		return err
	}
	// At most what the session was granted, as far as its holder has it
	// now; a session whose holder lost all of it ends.
	req.Scope, err = sessions.Narrow(f.Scope, "", holder)
	if errors.Is(err, sessions.ErrScopeLost) {
		ev := audit.New(ctx, now, f.TenantID, "api_key:"+f.APIKeyID, audit.APISessionLogout, f.ID, audit.Success)
		ev.Detail = map[string]any{"reason": "the key's user or client lost every scope the session was granted"}
		if _, err := h.Store.RevokeFamilies(ctx, store.FamilyFilter{ID: f.ID}, now, ev); err != nil {
			return err
		}
		return errScopeLost
	}
	if err != nil {
		return err
	}
	req.SessionID = f.ID
	m, err := h.Tokens.Mint(ctx, *req)
	if err != nil {
		return err
	}
	next := secret.New(secret.RefreshToken)
	var outcome error
	_, err = h.Store.UpdateFamilyByToken(ctx, digest, func(f *store.RefreshFamily, gen int64) (string, *store.Event, error) {
		d := sessions.Decide(f, gen, now, policy)
		switch d.Outcome {
		case sessions.Revoked:
			outcome = errBadRefresh
		case sessions.Ended:
			outcome = errSessionEnded
		case sessions.Reused:
			// Someone else may hold the session (RFC 9700 §4.14.2). End
			// it for everyone.
			sessions.End(f, now)
			outcome = errRefreshReused
			ev := audit.New(ctx, now, f.TenantID, "api_key:"+f.APIKeyID, audit.SecurityAPISessionRefreshReuse, f.ID, audit.Failure)
			ev.Detail = map[string]any{"presented_generation": gen, "current_generation": f.Generation}
			return "", &ev, nil
		case sessions.TooEarly:
			outcome = &tooEarlyError{d.Wait}
		case sessions.Rotate:
			sessions.Advance(f, now, m.Claims.ID, m.Claims.ExpiresAt(), nil)
			return secret.Hash(next).String(), nil, nil
		}
		return "", nil, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errBadRefresh
	case err != nil:
		return err
	case outcome != nil:
		return outcome
	}
	h.respond(w, m.Token, req.TTL, next)
	return nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.doLogout(w, r); err != nil {
		h.fail(w, err)
	}
}

// doLogout ends the session named by the bearer access token or by a
// refresh token of it in the body; its access tokens are denied.
func (h *Handler) doLogout(w http.ResponseWriter, r *http.Request) error {
	ctx, now := r.Context(), h.Now()
	var filter store.FamilyFilter
	var tenantID string
	if scheme, cred := protocol.AuthScheme(r.Header.Get("Authorization")); scheme != "" {
		if !strings.EqualFold(scheme, "Bearer") || cred == "" {
			return protocol.ErrInvalidRequest.WithChallenge("Bearer").WithDescription("use a Bearer access token")
		}
		c, err := h.Tokens.Verify(ctx, cred)
		if err != nil || c.Auth != credential.APIKey || c.SessionID == "" {
			return protocol.ErrInvalidToken.WithChallenge("Bearer").WithDescription("the access token is invalid, expired or not of an API-key session")
		}
		filter = store.FamilyFilter{ID: c.SessionID, APIKeyID: strings.TrimPrefix(c.ClientID, authn.APIKeyClientPrefix)}
		k, err := h.Store.GetAPIKey(ctx, filter.APIKeyID)
		if err != nil {
			return err
		}
		tenantID = k.TenantID
	} else {
		p, err := body(w, r)
		if err != nil {
			return err
		}
		raw := p.Get("refresh_token")
		if raw == "" || secret.Parse(raw, secret.RefreshToken) != nil {
			return protocol.ErrInvalidRequest.WithDescription("send a Bearer access token or {\"refresh_token\": ...}")
		}
		f, _, err := h.Store.GetFamilyByToken(ctx, secret.Hash(raw).String())
		if errors.Is(err, store.ErrNotFound) || (err == nil && f.APIKeyID == "") {
			return errBadRefresh
		}
		if err != nil {
			return err
		}
		filter, tenantID = store.FamilyFilter{ID: f.ID, APIKeyID: f.APIKeyID}, f.TenantID
	}
	ev := audit.New(ctx, now, tenantID, "api_key:"+filter.APIKeyID, audit.APISessionLogout, filter.ID, audit.Success)
	if _, err := h.Store.RevokeFamilies(ctx, filter, now, ev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
