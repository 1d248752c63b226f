package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// secretPrefix marks a signing secret shown to people, as Standard
// Webhooks writes them.
const secretPrefix = "whsec_"

// ErrSignature is Verify's answer to a signature that does not match.
var ErrSignature = errors.New("webhook: no valid signature")

// SigningSecret formats a signing key for display: whsec_<base64>, what a
// receiver configures.
func SigningSecret(key []byte) string {
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// sign returns the base64 HMAC-SHA256 of "id.timestamp.body" under key.
func sign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery: secret is the whsec_ form SigningSecret shows,
// id and timestamp the webhook-id and webhook-timestamp headers, body the
// raw request body, header the webhook-signature header (space-separated
// "v1,<base64>" values; any one matching is enough, which lets a sender
// rotate keys). It does not judge the timestamp's age: refuse one more
// than a few minutes from your clock to limit replays.
func Verify(secret, id, timestamp string, body []byte, header string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return errors.New("webhook: the secret is not whsec_<base64>")
	}
	want := []byte(sign(key, id, timestamp, body))
	for _, sig := range strings.Fields(header) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), want) {
			return nil
		}
	}
	return ErrSignature
}
