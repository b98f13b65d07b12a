package jsonw

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObjKeepsKeyOrder(t *testing.T) {
	o := Make([]byte("x"))
	o.Str("z", "a&b")
	o.Raw("skipped", nil)
	o.Int("a", -3)
	o.Bool("m", true)
	o.Raw("r", []byte(`[1]`))
	assert.Equal(t, `x{"z":"a&b","a":-3,"m":true,"r":[1]}`, string(o.Done()))
}

func TestAppendStringIsValidJSON(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\ nl\n tab\t cr\r ctl\x01", "bad utf8 \xff", "line sep \u2028 para \u2029", "ünïcødé"} {
		var back string
		require.NoError(t, json.Unmarshal(AppendString(nil, s), &back), s)
		want := []rune(s)
		for i, r := range want {
			if r == 0xFFFD {
				want[i] = '\uFFFD'
			}
		}
		assert.Equal(t, string(want), back)
	}
}
