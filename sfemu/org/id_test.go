package org

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Real ids and their 18-character forms.
func TestCaseSafeSuffix(t *testing.T) {
	for id15, want := range map[string]string{
		"001D000000IqhSL": "IAZ", "0011U00000V0tkD": "QAR", "0037e00001WZ30q": "AAD",
		"a02Hs0000179WYr": "IAM", "00Di0000000icUB": "EAY", "000000000000000": "AAA",
	} {
		assert.Equal(t, want, CaseSafeSuffix(id15), id15)
	}
}

func TestMakeID(t *testing.T) {
	id := MakeID("001", 1)
	assert.Len(t, id, 18)
	assert.Equal(t, "0015e0000000001", id[:15])
	n, ok := NormalizeID(id[:15])
	assert.True(t, ok)
	assert.Equal(t, id, n)
	assert.NotEqual(t, MakeID("001", 62), MakeID("001", 1))
	_, ok = NormalizeID("001xx")
	assert.False(t, ok)
	_, ok = NormalizeID(id[:15] + "ZZZ")
	assert.False(t, ok)
}
