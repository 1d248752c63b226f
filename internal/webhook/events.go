package webhook

import (
	"encoding/json"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Event types, as the envelope's "type" names them.
const (
	// TypePATExpiring: a personal access token expires in seven days, or
	// in one (see store.Webhooks.EnqueuePATExpiryNotices for the rule).
	TypePATExpiring = store.WebhookPATExpiring
	// TypeAPIKeyLoginThrottled: an API key went over its logins per hour.
	TypeAPIKeyLoginThrottled = "security.api_key_login_throttled"
	// TypeAPIAccessChanged: users' API access was switched on or off.
	TypeAPIAccessChanged = "user.api_access_changed"
	// TypePing: sent on demand (Ping) to test a configuration.
	TypePing = "ping"
)

// PATExpiring is the data of TypePATExpiring.
type PATExpiring = store.PATExpiring

// APIKeyLoginThrottled is the data of TypeAPIKeyLoginThrottled.
type APIKeyLoginThrottled struct {
	APIKeyID          string `json:"api_key_id"`
	LoginsPerHour     int    `json:"logins_per_hour"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

// APIAccessChanged is the data of TypeAPIAccessChanged.
type APIAccessChanged struct {
	UserIDs []string `json:"user_ids"`
	Enabled bool     `json:"enabled"`
}

// Envelope is the body of every delivery. Tenant is the tenant's name at
// delivery time; ID is also the webhook-id header, the same on every try.
type Envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Tenant    string          `json:"tenant"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

func envelope(e *store.WebhookEvent, tenantName string) ([]byte, error) {
	return json.Marshal(Envelope{ID: e.ID, Type: e.Type, Tenant: tenantName, CreatedAt: e.CreatedAt, Data: e.Data})
}
