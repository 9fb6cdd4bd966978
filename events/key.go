package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxPlainKeyID is the longest change id kept readable in a change key.
const maxPlainKeyID = 128

// ChangeKey returns a change's identity as one token that is safe in a
// NATS header, a subject and a KV key. CloudEvents identity is source + id,
// so both go into it: with h the SHA-256 of source, a NUL and id,
//
//	<id>_<first 16 hex digits of h>   when id has only [A-Za-z0-9-] and at most 128 bytes
//	sha-<first 32 hex digits of h>    otherwise
//
// The readable prefix lets an operator find a change's job results and job
// messages by its id; the hash keeps two sources' equal ids, and ids that
// differ only in characters a header or key cannot carry ("a\nb", "a b"),
// apart. The job message id (Nats-Msg-Id <key>.<hook>) and the result key
// (<hook>.<key>) are both made from it.
func ChangeKey(source, id string) string {
	// On the stack for the usual sizes: the router makes a key per change.
	var in [512]byte
	sum := sha256.Sum256(append(append(append(in[:0], source...), 0), id...))
	var digits [2 * sha256.Size]byte
	hex.Encode(digits[:], sum[:])
	if isPlainKeyID(id) {
		return id + "_" + string(digits[:16])
	}
	return "sha-" + string(digits[:32])
}

// Key returns the change's ChangeKey.
func (e *ChangeEvent) Key() string { return ChangeKey(e.Event.Source(), e.Event.ID()) }

// isPlainKeyID: "_" is left out so that the separator before the hash is
// the id's end.
func isPlainKeyID(id string) bool {
	if id == "" || len(id) > maxPlainKeyID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
