// Package seal encrypts the secrets that device events carry, devices'
// pre-shared keys, before they reach the event log, and decrypts them when
// the log is read: the log (and every copy of NATS's files, backups
// included) no longer holds them in clear, while every reader still sees
// the payload dojot's device manager would.
//
// A device event's "psks" member is replaced by "psks_sealed":
// "v1.<key id>.<base64url(nonce|AES-256-GCM ciphertext)>", authenticated
// with the event's tenant and device id, so a sealed value cannot be moved
// to another device. Events stored before sealing existed keep "psks" in
// clear and read as they always did.
package seal
