package pki

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/dojot-es/dojot"
)

// crlNextUpdate is how long a CRL is valid, as EJBCA's (1 day); one is
// made again once half of that has passed, and at once after a
// revocation.
const crlNextUpdate = 24 * time.Hour

type crlCache struct {
	number  uint64
	entries int
	made    time.Time
	pem     string
}

// CRL is the CA's current CRL in PEM: v2, every serial in revoked with
// reason superseded (dojot's), CRL number = number (the caller's
// monotonic count, e.g. the log sequence of the last revocation; 0 is
// taken as 1), AKI. It is valid a day and made afresh whenever number
// changes, so a revocation is in it at once. An empty list gives a valid
// empty CRL.
func (ca *CA) CRL(revoked []dojot.RevokedSerial, number uint64) (string, error) {
	now := ca.opts.Now().UTC()
	ca.crlMu.Lock()
	defer ca.crlMu.Unlock()
	c := ca.crl
	if c.pem != "" && c.number == number && c.entries == len(revoked) && now.Sub(c.made) < crlNextUpdate/2 {
		return c.pem, nil
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		n, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return "", fmt.Errorf("crl: serial %q is not hex", r.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: r.At.UTC(), ReasonCode: 4})
	}
	der, err := x509.CreateRevocationList(ca.opts.Rand, &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    new(big.Int).SetUint64(max(number, 1)),
		ThisUpdate:                now,
		NextUpdate:                now.Add(crlNextUpdate),
	}, ca.cert, ca.key)
	if err != nil {
		return "", fmt.Errorf("crl: %w", err)
	}
	ca.crl = crlCache{number: number, entries: len(revoked), made: now, pem: encodePEM("X509 CRL", der)}
	return ca.crl.pem, nil
}
