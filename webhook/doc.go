// Package webhook is NetBox's and Nautobot's webhook wire format, in one
// place: the body ingest reads and the body the webhook job writes are the
// same Payload type. It also signs and verifies bodies (X-Hook-Signature,
// Standard Webhooks) and delivers them over HTTP, classifying each response
// as delivered, worth retrying, or failed for good.
package webhook
