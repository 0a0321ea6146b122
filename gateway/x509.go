package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/pki"
)

// dojot's x509-identity-mgmt behind Kong's /x509 (X509.md 0-1, 3-5, 10):
// its paths, bodies, codes and messages, with errors as {"error":..}
// (+"detail"). The routes run behind the PEP like every Kong route.

// x509Commands are the certificate authority's writes
// (commands.Certificates).
type x509Commands interface {
	Issue(ctx context.Context, tenant, csrPEM string, owner dojot.CertOwner) (dojot.Certificate, error)
	Register(ctx context.Context, tenant, chainPEM, caFP string, owner dojot.CertOwner) (dojot.Certificate, error)
	SetOwner(ctx context.Context, tenant, fp string, owner dojot.CertOwner) error
	Revoke(ctx context.Context, tenant, fp string) error
	AddTrustedCA(ctx context.Context, tenant, caPEM string, allowAuto bool) (string, error)
	UpdateTrustedCA(ctx context.Context, tenant, fp string, allowAuto bool) error
	RemoveTrustedCA(ctx context.Context, tenant, fp string) error
}

// x509View is what the x509 API reads (memory.View).
type x509View interface {
	GetCertificate(ctx context.Context, tenant, fp string) (dojot.Certificate, bool, error)
	ListCertificates(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.Certificate, int, error)
	GetTrustedCA(ctx context.Context, tenant, fp string) (dojot.TrustedCA, bool, error)
	ListTrustedCAs(ctx context.Context, tenant string, q dojot.RecordQuery) ([]dojot.TrustedCA, int, error)
	CRLEntries(ctx context.Context) ([]dojot.RevokedSerial, uint64, error)
}

// X509CA is the platform CA as the API shows it (pki.CA).
type X509CA interface {
	PEM() string
	Fingerprint() string
	CRL(revoked []dojot.RevokedSerial, number uint64) (string, error)
}

// x509MaxBody is dojot's body limit for this service (100 kb).
const x509MaxBody = 100 << 10

func (s *Server) mountX509(r chi.Router) {
	h := func(f func(w http.ResponseWriter, r *http.Request, tenant string) error) http.Handler {
		return x509Handler(f)
	}
	r = r.With(jsonType(jsonExpress)) // x509-identity-mgmt is an Express service
	r.Method(http.MethodPost, "/x509/v1/certificates", h(s.postCertificate))
	r.Method(http.MethodGet, "/x509/v1/certificates", h(s.listCertificates))
	r.Method(http.MethodGet, "/x509/v1/certificates/{fp}", h(s.getCertificate))
	r.Method(http.MethodPatch, "/x509/v1/certificates/{fp}", h(s.patchCertificate))
	r.Method(http.MethodDelete, "/x509/v1/certificates/{fp}", h(s.deleteCertificate))
	r.Method(http.MethodDelete, "/x509/v1/certificates/{fp}/belongsto", h(s.unlinkCertificate))
	r.Method(http.MethodGet, "/x509/v1/ca", h(s.getCA))
	r.Method(http.MethodGet, "/x509/v1/ca/crl", h(s.getCRL))
	r.Method(http.MethodPost, "/x509/v1/trusted-cas", h(s.postTrustedCA))
	r.Method(http.MethodGet, "/x509/v1/trusted-cas", h(s.listTrustedCAs))
	r.Method(http.MethodGet, "/x509/v1/trusted-cas/{fp}", h(s.getTrustedCA))
	r.Method(http.MethodPatch, "/x509/v1/trusted-cas/{fp}", h(s.patchTrustedCA))
	r.Method(http.MethodDelete, "/x509/v1/trusted-cas/{fp}", h(s.deleteTrustedCA))
}

// x509Handler serves the caller's tenant and answers errors in
// x509-identity-mgmt's shape.
type x509Handler func(w http.ResponseWriter, r *http.Request, tenant string) error

func (h x509Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant, err := dmTenant(r)
	if err == nil {
		r.Body = http.MaxBytesReader(w, r.Body, x509MaxBody)
		err = h(w, r, tenant)
	}
	if err != nil {
		writeX509Error(w, r, err)
	}
}

// errUnexpected is dojot's answer to anything it did not foresee.
var errUnexpected = map[string]string{"error": "An unexpected error has occurred."}

// writeX509Error gives an error dojot's {"error":msg} body; the status
// comes from the one table, through writeError.
func writeX509Error(w http.ResponseWriter, r *http.Request, err error) {
	var de *dojot.Error
	if errors.As(err, &de) {
		if de.Body == nil {
			e := *de
			e.Body = map[string]string{"error": de.Error()}
			err = &e
		}
		writeError(w, r, err)
		return
	}
	for kind := range statusOf {
		if errors.Is(err, kind) {
			writeError(w, r, &dojot.Error{Kind: kind, Body: map[string]string{"error": err.Error()}})
			return
		}
	}
	logger(r.Context()).ErrorContext(r.Context(), "x509 request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	writeJSON(w, http.StatusInternalServerError, errUnexpected)
}

// readX509Body reads a JSON body; a body over dojot's limit is its 413,
// one that is not JSON its 400.
func readX509Body(r *http.Request, schemaID string) (any, error) {
	b, err := readBody(r)
	if err != nil {
		if errors.Is(err, dojot.ErrTooLarge) {
			return nil, &dojot.Error{Kind: dojot.ErrTooLarge, Body: map[string]string{"error": "request entity too large"}}
		}
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, schemaFailure(schemaID, schemaError{Keyword: "type", DataPath: "", SchemaPath: "#/type",
			Params: map[string]any{"type": "object"}, Message: "should be object"})
	}
	return v, nil
}

// ownerOf reads a belongsTo object already checked by the schema.
func ownerOf(v any) dojot.CertOwner {
	m, _ := v.(map[string]any)
	d, _ := m["device"].(string)
	a, _ := m["application"].(string)
	return dojot.CertOwner{Device: d, Application: a}
}

// forApplication reports whether belongsTo names an application, which
// this API refuses (dojot's internal throw-away route issues those).
func forApplication(v any) bool {
	m, _ := v.(map[string]any)
	_, ok := m["application"]
	return ok
}

var errForApplication = dojot.Errorf(dojot.ErrForbidden, "Operations on certificates for applications are not authorized through this endpoint.")

func (s *Server) postCertificate(w http.ResponseWriter, r *http.Request, tenant string) error {
	v, err := readX509Body(r, schemaCertificate)
	if err != nil {
		return err
	}
	in, err := checkCertificateBody(v)
	if err != nil {
		return err
	}
	owner := ownerOf(in["belongsTo"])
	if forApplication(in["belongsTo"]) {
		return errForApplication
	}
	if csr, ok := in["csr"].(string); ok {
		rec, err := s.opts.X509Commands.Issue(r.Context(), tenant, csr, owner)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]string{"certificateFingerprint": rec.Fingerprint, "certificatePem": rec.PEM})
		return nil
	}
	caFP, _ := in["caFingerprint"].(string)
	rec, err := s.opts.X509Commands.Register(r.Context(), tenant, in["certificateChain"].(string), caFP, owner)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"certificateFingerprint": rec.Fingerprint})
	return nil
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	fields, err := x509Fields(q, certificateFields)
	if err != nil {
		return err
	}
	rq := x509Page(q)
	rq.Filters = keyValFilters(q["keyVal"])
	recs, total, err := s.opts.X509View.ListCertificates(r.Context(), tenant, rq)
	if err != nil {
		return err
	}
	writeCertificates(w, r, rq, total, recs, fields)
	return nil
}

// writeCertificates answers a page of certificates with their fields.
func writeCertificates(w http.ResponseWriter, r *http.Request, q dojot.RecordQuery, total int, recs []dojot.Certificate, fields []string) {
	items := make([]json.RawMessage, 0, len(recs))
	for _, c := range recs {
		items = append(items, certificateJSON(c, fields))
	}
	writePaged(w, r, q, total, "certificates", items)
}

// pathFingerprint is :fp upper-cased with colons added, as dojot reads it;
// anything that cannot be a fingerprint is looked up as given (and not
// found).
func pathFingerprint(r *http.Request) string {
	fp := pathParam(r, "fp")
	if n, ok := pki.NormalizeFingerprint(fp); ok {
		return n
	}
	return fp
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, tenant string) error {
	fields, err := x509Fields(r.URL.Query(), certificateFields)
	if err != nil {
		return err
	}
	fp := pathFingerprint(r)
	c, ok, err := s.opts.X509View.GetCertificate(r.Context(), tenant, fp)
	if err != nil {
		return err
	}
	if !ok {
		return x509NotFound("fingerprint", fp, tenant)
	}
	writeRawJSON(w, http.StatusOK, append(certificateJSON(c, fields), '\n'))
	return nil
}

func x509NotFound(key, fp, tenant string) error {
	b, _ := json.Marshal(fp)
	t, _ := json.Marshal(tenant)
	return dojot.Errorf(dojot.ErrNotFound, `No records found for the following parameters: {"%s":%s,"tenant":%s}`, key, b, t)
}

func (s *Server) patchCertificate(w http.ResponseWriter, r *http.Request, tenant string) error {
	v, err := readX509Body(r, schemaChangeOwner)
	if err != nil {
		return err
	}
	in, err := checkChangeOwnerBody(v)
	if err != nil {
		return err
	}
	if forApplication(in["belongsTo"]) {
		return errForApplication
	}
	if err := s.opts.X509Commands.SetOwner(r.Context(), tenant, pathFingerprint(r), ownerOf(in["belongsTo"])); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteCertificate(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.opts.X509Commands.Revoke(r.Context(), tenant, pathFingerprint(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) unlinkCertificate(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.opts.X509Commands.SetOwner(r.Context(), tenant, pathFingerprint(r), dojot.CertOwner{}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getCA(w http.ResponseWriter, r *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, struct {
		Fingerprint string `json:"certificateFingerprint"`
		PEM         string `json:"caPem"`
	}{s.opts.CA.Fingerprint(), s.opts.CA.PEM()})
	return nil
}

// getCRL answers the CRL as of now: a revocation is in it at once (dojot's
// full CRL took up to a day).
func (s *Server) getCRL(w http.ResponseWriter, r *http.Request, _ string) error {
	entries, number, err := s.opts.X509View.CRLEntries(r.Context())
	if err != nil {
		return err
	}
	crl, err := s.opts.CA.CRL(entries, number)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"crl": crl})
	return nil
}

func (s *Server) postTrustedCA(w http.ResponseWriter, r *http.Request, tenant string) error {
	v, err := readX509Body(r, schemaTrustedCA)
	if err != nil {
		return err
	}
	in, err := checkTrustedCABody(v)
	if err != nil {
		return err
	}
	auto, _ := in["allowAutoRegistration"].(bool)
	fp, err := s.opts.X509Commands.AddTrustedCA(r.Context(), tenant, in["caPem"].(string), auto)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"caFingerprint": fp})
	return nil
}

func (s *Server) listTrustedCAs(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	fields, err := x509Fields(q, trustedCAFields)
	if err != nil {
		return err
	}
	rq := x509Page(q)
	rq.Filters = queryFilters(q, trustedCAFilterable)
	recs, total, err := s.opts.X509View.ListTrustedCAs(r.Context(), tenant, rq)
	if err != nil {
		return err
	}
	items := make([]json.RawMessage, 0, len(recs))
	for _, c := range recs {
		items = append(items, trustedCAJSON(c, fields))
	}
	writePaged(w, r, rq, total, "trusted-cas", items)
	return nil
}

func (s *Server) getTrustedCA(w http.ResponseWriter, r *http.Request, tenant string) error {
	fields, err := x509Fields(r.URL.Query(), trustedCAFields)
	if err != nil {
		return err
	}
	fp := pathFingerprint(r)
	c, ok, err := s.opts.X509View.GetTrustedCA(r.Context(), tenant, fp)
	if err != nil {
		return err
	}
	if !ok {
		return x509NotFound("caFingerprint", fp, tenant)
	}
	writeRawJSON(w, http.StatusOK, append(trustedCAJSON(c, fields), '\n'))
	return nil
}

func (s *Server) patchTrustedCA(w http.ResponseWriter, r *http.Request, tenant string) error {
	v, err := readX509Body(r, schemaUpdateTrustedCA)
	if err != nil {
		return err
	}
	in, err := checkUpdateTrustedCABody(v)
	if err != nil {
		return err
	}
	if err := s.opts.X509Commands.UpdateTrustedCA(r.Context(), tenant, pathFingerprint(r), in["allowAutoRegistration"].(bool)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteTrustedCA(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.opts.X509Commands.RemoveTrustedCA(r.Context(), tenant, pathFingerprint(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
