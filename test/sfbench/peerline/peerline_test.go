package peerline

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInputs(t *testing.T) {
	t.Setenv("SFBENCH_TOKEN", "tok")
	token, want, err := Inputs("500")
	require.NoError(t, err)
	assert.Equal(t, "tok", token)
	assert.Equal(t, int64(500), want)
	for _, bad := range []string{"0", "-3", "x", ""} {
		_, _, err := Inputs(bad)
		assert.ErrorContains(t, err, "COUNT must be a positive integer", bad)
	}
	t.Setenv("SFBENCH_TOKEN", "")
	_, _, err = Inputs("500")
	assert.ErrorContains(t, err, "SFBENCH_TOKEN")
}
