package sfauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parsePrivateKey finds the first private key block in pemBytes and returns it
// as an RSA key. Other blocks (a certificate kept in the same file) are
// skipped. Errors describe the file's shape, never its content.
func parsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	rest := pemBytes
	var seen []string
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			if _, encrypted := block.Headers["Proc-Type"]; encrypted {
				return nil, errEncryptedKey
			}
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing PKCS#1 RSA private key: %w", err)
			}
			return key, nil
		case "PRIVATE KEY":
			parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing PKCS#8 private key: %w", err)
			}
			switch key := parsed.(type) {
			case *rsa.PrivateKey:
				return key, nil
			case *ecdsa.PrivateKey:
				return nil, errors.New("the private key is an ECDSA key; Salesforce's JWT bearer flow needs an RSA key (RS256)")
			case ed25519.PrivateKey:
				return nil, errors.New("the private key is an Ed25519 key; Salesforce's JWT bearer flow needs an RSA key (RS256)")
			default:
				return nil, fmt.Errorf("the private key is a %T; Salesforce's JWT bearer flow needs an RSA key (RS256)", parsed)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, errEncryptedKey
		default:
			seen = append(seen, block.Type)
		}
	}
	if len(seen) > 0 {
		return nil, fmt.Errorf("no private key in the PEM data (found only %q blocks); expected RSA PRIVATE KEY or PRIVATE KEY", seen)
	}
	return nil, errors.New("no PEM data found; expected a block starting -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----")
}

var errEncryptedKey = errors.New("the private key is encrypted; decrypt it first (openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem)")
