package console

import (
	"net/http"

	"github.com/gatehouse/gatehouse/web"
)

// referenceCSP is the API reference page's policy: Redoc injects its
// styles and runs its search in a worker made from a blob, so those two
// are allowed there; scripts still come only from Gatehouse.
const referenceCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; worker-src blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// reference is Admin > API reference: the admin API's OpenAPI document
// rendered by the vendored Redoc bundle.
func (h *Handler) reference(w http.ResponseWriter, r *http.Request, c *caller) error {
	v := c.view("Admin API reference")
	w.Header().Set("Content-Security-Policy", referenceCSP)
	h.render(w, r, http.StatusOK, "reference", v)
	return nil
}

// openAPI serves the document the reference page renders.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request, c *caller) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(h.OpenAPI)
	return nil
}

// redoc serves the vendored bundle.
func redoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(web.Redoc)
}
