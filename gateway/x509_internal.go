package gateway

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
)

// x509-identity-mgmt's internal API (X509.md 9), on the internal listener
// with no token, as dojot serves it behind Kong's back: the CA, its bundle
// and CRL for the services' cert-sidecars, a certificate for a service
// (throw-away: not stored), and the cross-tenant read certificate-acl
// makes.

// x509Internal is what the internal routes read across tenants
// (memory.View).
type x509Internal interface {
	Certificate(fp string) (dojot.Certificate, bool)
	TrustBundle() (uint64, []string)
	CRLEntries(ctx context.Context) ([]dojot.RevokedSerial, uint64, error)
	ListAllCertificates(ctx context.Context, q dojot.RecordQuery) ([]dojot.Certificate, int, error)
}

// x509ServiceIssuer signs a service's CSR (commands.Certificates).
type x509ServiceIssuer interface {
	IssueService(ctx context.Context, csrPEM string, owner dojot.CertOwner) (dojot.Certificate, error)
}

func (s *Server) mountX509Internal(r chi.Router) {
	h := func(f func(w http.ResponseWriter, r *http.Request) error) http.Handler { return x509Untenanted(f) }
	r.Method(http.MethodPost, "/internal/api/v1/throw-away", h(s.throwAway))
	r.Method(http.MethodGet, "/internal/api/v1/throw-away/ca", h(s.internalCA))
	r.Method(http.MethodGet, "/internal/api/v1/throw-away/ca/bundle", h(s.internalBundle))
	r.Method(http.MethodGet, "/internal/api/v1/throw-away/ca/crl", h(s.internalCRL))
	r.Method(http.MethodGet, "/internal/api/v1/certificates", h(s.internalCertificates))
	r.Method(http.MethodGet, "/internal/api/v1/certificates/{fp}", h(s.internalCertificate))
}

// x509Untenanted is an internal route: no caller, x509-identity-mgmt's
// errors.
type x509Untenanted func(w http.ResponseWriter, r *http.Request) error

func (h x509Untenanted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, x509MaxBody)
	if err := h(w, r); err != nil {
		writeX509Error(w, r, err)
	}
}

// pemOrJSON is Express's res.format over application/x-pem-file (a PEM
// attachment named file) and application/json: JSON when the client takes
// anything, else 406.
func pemOrJSON(w http.ResponseWriter, r *http.Request, code int, file, pemText string, body any) error {
	switch acceptOf(r) {
	case "application/x-pem-file":
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(pemText))
		return nil
	case "application/json":
		writeJSON(w, code, body)
		return nil
	}
	return &dojot.Error{Kind: dojot.ErrNotAcceptable, Body: map[string]string{"error": "Not Acceptable"}}
}

// acceptOf picks what the Accept header prefers of JSON and PEM (JSON
// for none, */* or application/*).
func acceptOf(r *http.Request) string {
	h := r.Header.Get("Accept")
	if h == "" {
		return "application/json"
	}
	for _, part := range strings.Split(h, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "*/*", "application/*":
			return "application/json"
		case "application/x-pem-file":
			return mt
		}
	}
	return ""
}

func (s *Server) throwAway(w http.ResponseWriter, r *http.Request) error {
	v, err := readX509Body(r, schemaCertificate)
	if err != nil {
		return err
	}
	in, err := checkCertificateBody(v)
	if err != nil {
		return err
	}
	csr, ok := in["csr"].(string)
	if !ok {
		return schemaFailure(schemaCertificate, schemaError{"required", "", "#/required", map[string]any{"missingProperty": "csr"}, "should have required property 'csr'"})
	}
	rec, err := s.opts.X509Services.IssueService(r.Context(), csr, ownerOf(in["belongsTo"]))
	if err != nil {
		return err
	}
	return pemOrJSON(w, r, http.StatusCreated, "cert.pem", rec.PEM+"\n", map[string]string{"certificateFingerprint": rec.Fingerprint, "certificatePem": rec.PEM})
}

func (s *Server) internalCA(w http.ResponseWriter, r *http.Request) error {
	return pemOrJSON(w, r, http.StatusOK, "ca.pem", s.opts.CA.PEM()+"\n", struct {
		Fingerprint string `json:"certificateFingerprint"`
		PEM         string `json:"caPem"`
	}{s.opts.CA.Fingerprint(), s.opts.CA.PEM()})
}

// internalBundle is the platform CA first, then every tenant's trusted
// CAs, each once: the trust store of dojot's brokers.
func (s *Server) internalBundle(w http.ResponseWriter, r *http.Request) error {
	_, trusted := s.opts.X509Internal.TrustBundle()
	pems := append([]string{s.opts.CA.PEM()}, trusted...)
	return pemOrJSON(w, r, http.StatusOK, "cabundle.pem", strings.Join(pems, "\n")+"\n", pems)
}

// internalCRL is the CRL, current at once (?update=true, which forced a
// new one in dojot, changes nothing here).
func (s *Server) internalCRL(w http.ResponseWriter, r *http.Request) error {
	entries, number, err := s.opts.X509Internal.CRLEntries(r.Context())
	if err != nil {
		return err
	}
	crl, err := s.opts.CA.CRL(entries, number)
	if err != nil {
		return err
	}
	return pemOrJSON(w, r, http.StatusOK, "crl.pem", crl+"\n", map[string]string{"crl": crl})
}

// internalCertificate is any tenant's certificate, as certificate-acl
// asks for an owner (?fields=tenant,belongsTo).
func (s *Server) internalCertificate(w http.ResponseWriter, r *http.Request) error {
	fields, err := x509Fields(r.URL.Query(), certificateFields)
	if err != nil {
		return err
	}
	fp := pathFingerprint(r)
	c, ok := s.opts.X509Internal.Certificate(fp)
	if !ok {
		b, _ := json.Marshal(fp)
		return dojot.Errorf(dojot.ErrNotFound, `No records found for the following parameters: {"fingerprint":%s}`, b)
	}
	writeRawJSON(w, http.StatusOK, append(certificateJSON(c, fields), '\n'))
	return nil
}

// internalCertificates lists every tenant's certificates, filtered by
// top-level key=value with mongo-querystring's '!' operator only (dojot's
// internal route), tenant included.
func (s *Server) internalCertificates(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	fields, err := x509Fields(q, certificateFields)
	if err != nil {
		return err
	}
	rq := x509Page(q)
	for _, f := range queryFilters(q, append([]string{"tenant"}, certificateFilterable...)) {
		switch f.Op {
		case dojot.FilterEq, dojot.FilterNe, dojot.FilterExists, dojot.FilterAbsent:
			rq.Filters = append(rq.Filters, f)
		default: // no other operator here: the value as it is
			rq.Filters = append(rq.Filters, dojot.RecordFilter{Field: f.Field, Op: dojot.FilterEq, Value: q.Get(f.Field)})
		}
	}
	recs, total, err := s.opts.X509Internal.ListAllCertificates(r.Context(), rq)
	if err != nil {
		return err
	}
	writeCertificates(w, r, rq, total, recs, fields)
	return nil
}
