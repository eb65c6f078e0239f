// Package tlsutil loads the CA bundles Kubently's clients trust: the
// executor's bundle for the API's certificate and the API's bundle for a
// rediss:// server. One loader, one error message for a bad file.
package tlsutil

import (
	"crypto/x509"
	"fmt"
	"os"
)

// LoadCAPool reads a PEM bundle into a certificate pool. A file with no
// certificate in it is an error, not an empty pool that trusts nothing.
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificates", path)
	}
	return pool, nil
}
