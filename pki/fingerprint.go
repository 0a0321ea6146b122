package pki

import (
	"crypto/sha256"
	"strings"
)

const hexUpper = "0123456789ABCDEF"

// Fingerprint is dojot's name for a certificate: the SHA-256 of its DER in
// upper-case hex, bytes joined by ':' (what `openssl x509 -fingerprint
// -sha256` prints).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	b := make([]byte, 0, len(sum)*3-1)
	for i, c := range sum {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexUpper[c>>4], hexUpper[c&0xf])
	}
	return string(b)
}

// NormalizeFingerprint accepts a fingerprint as a path parameter may carry
// it (lower case, with or without colons) and returns dojot's form; ok is
// false unless it is 32 hex bytes.
func NormalizeFingerprint(s string) (fp string, ok bool) {
	h := strings.ToUpper(strings.ReplaceAll(s, ":", ""))
	if len(h) != 64 {
		return "", false
	}
	b := make([]byte, 0, 95)
	for i := 0; i < 64; i += 2 {
		if !isHex(h[i]) || !isHex(h[i+1]) {
			return "", false
		}
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, h[i], h[i+1])
	}
	// With colons, they must sit between bytes (what dojot's regexp adds).
	if strings.Contains(s, ":") && strings.ToUpper(s) != string(b) {
		return "", false
	}
	return string(b), true
}

func isHex(c byte) bool { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') }

// FingerprintID is the fingerprint as an event subject token: its 64 hex
// digits without colons.
func FingerprintID(fp string) string { return strings.ReplaceAll(fp, ":", "") }
