package tokens

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoreIssueValidRevoke(t *testing.T) {
	s := New("00D5e000000SfEmUAQ", 1)
	a, b := s.Issue(), s.Issue()
	require.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, "00D5e000000SfEm!"), a)
	assert.Len(t, a, 15+1+96)
	assert.True(t, s.Valid(a))
	assert.True(t, s.Valid(b))
	assert.False(t, s.Valid(""))
	assert.False(t, s.Valid(a+"x"))

	s.Refused()
	grants, refusals := s.Counts()
	assert.Equal(t, int64(2), grants)
	assert.Equal(t, int64(1), refusals)

	s.RevokeAll()
	assert.False(t, s.Valid(a))
	assert.False(t, s.Valid(b))
	s.RevokeAll() // idempotent
	c := s.Issue()
	assert.True(t, s.Valid(c), "a token issued after a revocation is valid")
}
