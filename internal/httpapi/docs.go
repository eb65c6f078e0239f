package httpapi

import (
	_ "embed"
	"net/http"
)

// docsPage is the interactive documentation: one self-contained page that
// reads /openapi.json and can send requests. It loads nothing from outside
// the API, so it works on air-gapped installs.
//
//go:embed docs.html
var docsPage []byte

func (s *Server) docs(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Only this page's own inline script and same-origin fetches may run.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(docsPage)
	return nil
}
