package gateway

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/credential"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/protocol"
)

// Signed links let a browser download a file without a bearer token: the
// platform asks Gatehouse to sign a path for a subject, for at most an
// hour, and the gateway serves GETs of that exact URL until it expires.
// The signature is an HMAC under a key derived from the current signing
// key, so link keys rotate with signing keys; retired keys keep verifying
// for far longer than a link lives.
const (
	linkExp = "gh_exp"
	linkSub = "gh_sub"
	linkKid = "gh_kid"
	linkSig = "gh_sig"
	// MaxLinkTTL is the longest a signed link may live.
	MaxLinkTTL = time.Hour
	maxSubject = 256
)

var linkParams = []string{linkExp, linkSub, linkKid, linkSig}

// Links signs and verifies file links.
type Links struct {
	Keys *keys.Manager
	Now  func() time.Time
	// Base is the public base URL links start with (the issuer).
	Base string
}

// Link errors; their text is sent to the caller.
var (
	ErrLinkExpired  = errors.New("the link expired")
	ErrLinkInvalid  = errors.New("the link signature is invalid")
	ErrLinkMethod   = errors.New("a signed link is good for GET only")
	ErrLinkArgument = errors.New("bad link request")
)

// Sign returns the URL of a link to p (a path with an optional query) for
// subject, valid for ttl (at most MaxLinkTTL).
func (l *Links) Sign(p, subject string, ttl time.Duration) (string, time.Time, error) {
	u, err := url.Parse(p)
	switch {
	case err != nil || u.IsAbs() || u.Host != "" || u.Fragment != "" || !path.IsAbs(u.Path) || path.Clean(u.Path) != u.Path:
		return "", time.Time{}, fmt.Errorf("%w: path must be a clean absolute path, e.g. /api/acme/files/42", ErrLinkArgument)
	case subject == "" || len(subject) > maxSubject || !protocol.Printable(subject):
		return "", time.Time{}, fmt.Errorf("%w: subject must be 1 to %d printable characters", ErrLinkArgument, maxSubject)
	case ttl <= 0 || ttl > MaxLinkTTL:
		return "", time.Time{}, fmt.Errorf("%w: lifetime must be between 1s and %s", ErrLinkArgument, MaxLinkTTL)
	}
	q := u.Query()
	for _, k := range linkParams {
		if q.Has(k) {
			return "", time.Time{}, fmt.Errorf("%w: the query may not carry %s", ErrLinkArgument, k)
		}
	}
	exp := l.Now().Add(ttl).Truncate(time.Second)
	k := l.Keys.Current()
	q.Set(linkExp, strconv.FormatInt(exp.Unix(), 10))
	q.Set(linkSub, subject)
	q.Set(linkKid, k.ID)
	q.Set(linkSig, base64.RawURLEncoding.EncodeToString(k.MAC(linkInput(u.Path, q))))
	return l.Base + (&url.URL{Path: u.Path, RawQuery: q.Encode()}).RequestURI(), exp, nil
}

// linkInput is what a link's MAC covers: the path and every query
// parameter but the signature itself, in a canonical order.
func linkInput(p string, q url.Values) []byte {
	c := url.Values{}
	for k, v := range q {
		if k != linkSig {
			c[k] = v
		}
	}
	return []byte("gatehouse link v1\n" + p + "\n" + c.Encode())
}

// verify checks a signed link and returns its principal.
func (l *Links) verify(r *http.Request, m *match) (*authn.Principal, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, ErrLinkMethod
	}
	q := r.URL.Query()
	for _, k := range linkParams {
		if len(q[k]) != 1 {
			return nil, ErrLinkInvalid
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(q.Get(linkSig))
	if err != nil {
		return nil, ErrLinkInvalid
	}
	k, ok := l.Keys.Lookup(r.Context(), q.Get(linkKid))
	if !ok || !hmac.Equal(sig, k.MAC(linkInput(r.URL.Path, q))) {
		return nil, ErrLinkInvalid
	}
	// The MAC is good, so the fields are ours; only time can fail now.
	exp, err := strconv.ParseInt(q.Get(linkExp), 10, 64)
	if err != nil {
		return nil, ErrLinkInvalid
	}
	if !l.Now().Before(time.Unix(exp, 0)) {
		return nil, ErrLinkExpired
	}
	sub := q.Get(linkSub)
	return &authn.Principal{Kind: credential.SignedLink, Subject: sub, Tenant: m.tenant, Orgs: []string{m.tenant},
		RateKey: "link:" + sub, Expiry: time.Unix(exp, 0)}, nil
}

// SignLink signs a link to p for subject, once sure a route serves p to
// readers: a link to nowhere would only fail later, in a browser.
func (g *Gateway) SignLink(p, subject string, ttl time.Duration) (string, time.Time, error) {
	if g.Links == nil {
		return "", time.Time{}, fmt.Errorf("%w: signed links are off", ErrLinkArgument)
	}
	u, err := url.Parse(p)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: path must be a clean absolute path", ErrLinkArgument)
	}
	if t := g.table.Load(); t != nil {
		if m, ok := t.match(u.Path); ok && (m.version == nil || !m.version.Removed) {
			return g.Links.Sign(p, subject, ttl)
		}
	}
	return "", time.Time{}, fmt.Errorf("%w: no gateway route serves %s", ErrLinkArgument, protocol.Clean(u.Path, 200))
}
