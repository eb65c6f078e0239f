package k8stest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"

	"github.com/kubently/kubently/internal/testpki"
)

// newServiceAccountKey returns a fresh ECDSA key pair for signing ServiceAccount tokens, as a
// PKCS#8 private key PEM (for --service-account-signing-key-file) and a PKIX public key PEM
// (for --service-account-key-file).
func newServiceAccountKey() (privPEM, pubPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return testpki.PEM("PRIVATE KEY", privDER), testpki.PEM("PUBLIC KEY", pubDER), nil
}

// randomToken returns a random hex string suitable as a static bearer token.
func randomToken() string {
	return fmt.Sprintf("%x", testpki.RandomSerial().Bytes())
}
