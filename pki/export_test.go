package pki

import "crypto"

// KeyOf exposes a CA's key to the tests (to build the same CA at another
// time).
func KeyOf(ca *CA) crypto.Signer { return ca.key }
