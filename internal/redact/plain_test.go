package redact

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestUndecodableAgreesWithTheDecoders: for plain ids (the texts the short
// path serves) and texts that must take the long one, findSecrets finds the
// same spans as the walk through every decoding, and the short path is taken
// exactly when no decoder changes the text.
func TestUndecodableAgreesWithTheDecoders(t *testing.T) {
	secrets := []string{"s3cretClientSecretValue0123456789abcdef", "pw12pw12", "tok"}
	b64 := base64.RawURLEncoding.EncodeToString
	texts := []struct {
		text  string
		short bool
	}{
		{"e2c5e3f0-5d3a-4a7b-9b1e-0f6b2c1d4e5f", true},
		{"G5OC_jTD6ZcSRSwh7kpoHg", true},
		{"a.b.c-1_2", true},
		{"id-with-tok-inside", true},
		{"xx" + secrets[0] + "yy", true},         // a literal secret in a run that decodes to binary
		{"id." + b64([]byte(secrets[1])), false}, // a secret in base64 after a dot
		{b64([]byte("Aa" + secrets[0])), false},  // the whole id a base64 secret
		{"pw12pw12", true},                       // a literal secret that decodes to binary
		{"plain%2Fid", false},
		{"with+plus", false},
		{"amp&amp;", false},
		{"back\\u0041slash", false},
		{"slash/id", false},
		{"pad==", false},
		{"ünïcode", false},
		{"", true},
	}
	for _, tt := range texts {
		assert.Equal(t, tt.short, undecodable(tt.text), "%q short path", tt.text)
		if tt.text != "" {
			assert.Equal(t, decodedSpans(tt.text, secrets), findSecrets(tt.text, secrets), "%q", tt.text)
		}
	}
	// Random ids of the plain alphabet, some holding a secret as written or
	// in base64: both paths agree on each.
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
	rng := rand.New(rand.NewPCG(1, 2))
	short := 0
	for range 3000 {
		b := make([]byte, 4+rng.IntN(60))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		switch rng.IntN(4) {
		case 0:
			s += secrets[rng.IntN(len(secrets))]
		case 1:
			s += "." + b64([]byte(secrets[rng.IntN(len(secrets))]))
		}
		if undecodable(s) {
			short++
		}
		assert.Equal(t, decodedSpans(s, secrets), findSecrets(s, secrets), "%q", s)
	}
	assert.Greater(t, short, 1000, "the short path was exercised")
}

// BenchmarkKnownID: what redacting an event id costs.
func BenchmarkKnownID(b *testing.B) {
	r := New("s3cretClientSecretValue0123456789abcdef", "pw12")
	r.AddToken("00Dxx0000001gPL!AQ4AQFakeTokenValueForBenchmarks0123456789")
	for b.Loop() {
		_ = r.Known("e2c5e3f0-5d3a-4a7b-9b1e-0f6b2c1d4e5f")
	}
}
