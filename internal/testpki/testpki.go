// Package testpki issues throw-away certificates for test servers that must
// speak TLS for real: a one-day ECDSA CA and the serving certificates it
// signs (the test kube-apiserver and its stand-ins, a TLS redis-server).
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA is a self-signed certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// Serving is a server certificate issued by a CA, in PEM and in tls form.
type Serving struct {
	CertPEM []byte
	KeyPEM  []byte
	TLS     tls.Certificate
}

// NewCA creates a self-signed ECDSA P-256 CA valid for one day.
func NewCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          RandomSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: PEM("CERTIFICATE", der)}, nil
}

// IssueServing issues a server certificate for the given DNS names and IP addresses.
func (ca *CA) IssueServing(cn string, dnsNames []string, ips []net.IP) (*Serving, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: RandomSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	sc := &Serving{CertPEM: PEM("CERTIFICATE", der), KeyPEM: PEM("PRIVATE KEY", keyDER)}
	if sc.TLS, err = tls.X509KeyPair(sc.CertPEM, sc.KeyPEM); err != nil {
		return nil, err
	}
	return sc, nil
}

// ServerTLSConfig returns a TLS configuration that serves sc.
func (sc *Serving) ServerTLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{sc.TLS}, MinVersion: tls.VersionTLS12}
}

// RandomSerial returns a random 127-bit certificate serial.
func RandomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("testpki: crypto/rand failed: %v", err))
	}
	return n
}

// PEM encodes der as one PEM block of type typ.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
