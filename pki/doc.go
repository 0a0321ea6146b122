// Package pki is the platform's certificate authority, in the manner of
// cfssl's local signer: a CA built from a certificate and a crypto.Signer,
// a policy saying what a device certificate gets (dojot's EJBCA profile
// X509Identity), and methods that check a request before they sign it.
// Crypto stays inside this package: callers ask "sign this CSR", "is this
// chain from a trusted CA?", "who is this client certificate?" and get
// domain answers (PEM text, fingerprints, dojot.Certificate fields) and
// dojot error kinds carrying dojot's messages.
//
// Keys never leave it: the CA key is kept in a file (mode 0600), never in
// the event log; only certificates, fingerprints and serials are.
package pki
