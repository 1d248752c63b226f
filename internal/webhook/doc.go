// Package webhook owns tenant webhooks: events are written to the store's
// outbox (store.Webhooks) by whatever decides them, then claimed, signed
// and POSTed to the tenant's WebhookURL by any replica, with retries and
// exponential backoff until a 2xx or the last attempt. Signatures follow
// the Standard Webhooks convention (webhook-id, webhook-timestamp,
// webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">), so a
// receiver can use any of its libraries, or Verify. Delivery is at least
// once and unordered: receivers dedupe on webhook-id.
//
// Outbound requests go through the *http.Client the app gives (from
// internal/egress), which owns the SSRF rules; this package adds none.
package webhook
