package secret

import (
	"crypto/rand"
	"math/big"
)

// NewID returns a random identifier: prefix, underscore, up to 20 base62
// digits (112 bits). Identifiers are not secrets; they are unguessable so
// that one object's id says nothing about another's.
func NewID(prefix string) string {
	b := make([]byte, 14)
	if _, err := rand.Read(b); err != nil {
		panic("secret: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + new(big.Int).SetBytes(b).Text(62)
}
