package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// SecretPrefix starts every key secret, so that a leaked one is easy to
// recognise (secret scanners) and a bootstrap token cannot be mistaken for one.
const SecretPrefix = "cgk_"

// NewSecret returns a new key secret: SecretPrefix and 32 bytes from
// crypto/rand in unpadded base64url.
func NewSecret() string {
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(rand32())
}

// Hash is the hex SHA-256 of a secret, under which its key is stored.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// keyIDEncoding writes key ids: lowercase base32 without padding.
var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newKeyID returns "key_" and 26 lowercase base32 characters (128 random
// bits). Ids are public: they name keys in the admin API and logs.
func newKeyID() string {
	return "key_" + strings.ToLower(keyIDEncoding.EncodeToString(rand32()[:16]))
}

func rand32() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return b
}
