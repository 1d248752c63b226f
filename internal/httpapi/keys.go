package httpapi

import (
	"github.com/gatehouse/gatehouse/internal/audit"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/protocol"
	"github.com/gatehouse/gatehouse/sdk/admin"
)

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	cur := a.Keys.Current()
	out := []admin.Key{}
	for _, k := range a.Keys.All() {
		out = append(out, adminKey(k, cur))
	}
	protocol.WriteJSON(w, http.StatusOK, admin.List[admin.Key]{Items: out})
	return nil
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var in admin.RotateKeyInput
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			return err
		}
	}
	if in.Alg != "" && !keys.ValidAlg(in.Alg) {
		return protocol.ErrInvalidRequest.WithDescription("alg must be ES256, RS256 or EdDSA")
	}
	ahead := a.Keys.PublishAhead
	if in.Immediate {
		ahead = 0
	}
	ev := a.event(r, "", audit.KeyRotate, "")
	ev.Detail = map[string]any{"immediate": in.Immediate, "activates_in_seconds": int(ahead.Seconds())}
	k, err := a.Keys.Rotate(r.Context(), jose.SignatureAlgorithm(in.Alg), ahead, ev)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusCreated, adminKey(k, a.Keys.Current()))
	return nil
}

func adminKey(k, current *keys.Key) admin.Key {
	return admin.Key{KID: k.ID, Alg: string(k.Alg), Current: k == current, ActivatesAt: k.Activates.UTC(), RetiredAt: k.Retired}
}

func (a *API) signLink(w http.ResponseWriter, r *http.Request) error {
	var in admin.LinkInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if a.SignLink == nil {
		return protocol.ErrNotFound.WithDescription("signed links are not enabled")
	}
	if in.TTL < 1 || in.TTL > 3600 {
		return protocol.ErrInvalidRequest.WithDescription("ttl must be between 1 and 3600 seconds")
	}
	u, exp, err := a.SignLink(in.Path, in.Subject, time.Duration(in.TTL)*time.Second)
	if err != nil {
		return protocol.ErrInvalidRequest.WithDescription(err.Error())
	}
	protocol.WriteJSON(w, http.StatusCreated, admin.Link{URL: u, ExpiresAt: exp.UTC()})
	return nil
}
