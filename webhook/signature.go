package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Signature headers.
const (
	// HeaderSignature carries NetBox's and Nautobot's signature: the
	// lowercase hex HMAC-SHA512 of the exact body, keyed with the secret.
	HeaderSignature = "X-Hook-Signature"
	// Standard Webhooks headers (standardwebhooks.com).
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// ErrBadSignature is returned by Verify for a missing or wrong signature.
var ErrBadSignature = errors.New("bad signature")

// Sign returns the X-Hook-Signature value of body: the lowercase hex
// HMAC-SHA512 of body keyed with secret, as NetBox and Nautobot compute it.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha512.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify checks an X-Hook-Signature value against body in constant time.
func Verify(secret, body []byte, signature string) error {
	if signature == "" {
		return fmt.Errorf("%w: no %s header", ErrBadSignature, HeaderSignature)
	}
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrBadSignature, HeaderSignature)
	}
	mac := hmac.New(sha512.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", ErrBadSignature, HeaderSignature)
	}
	return nil
}

// StandardSecretPrefix starts a Standard Webhooks secret: whsec_ and the
// base64 of the key.
const StandardSecretPrefix = "whsec_"

// ParseStandardSecret returns the key of a Standard Webhooks secret
// (whsec_<base64>).
func ParseStandardSecret(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, StandardSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("a Standard Webhooks secret starts with %q", StandardSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("a Standard Webhooks secret is %q and base64: %w", StandardSecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("the Standard Webhooks secret is empty")
	}
	return key, nil
}

// StandardSignature returns the webhook-signature value for a message:
// "v1," and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>", where
// timestamp is in Unix seconds.
func StandardSignature(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
