package dojot

import (
	"encoding/hex"
	"fmt"
	"io"
)

// NewUUID is a random (version 4) UUID read from r, lowercase, as Node's
// uuid/v4 makes dojot's flow ids, cron job ids and socket.io tokens.
func NewUUID(r io.Reader) (string, error) {
	var u [16]byte
	if _, err := io.ReadFull(r, u[:]); err != nil {
		return "", fmt.Errorf("uuid: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
