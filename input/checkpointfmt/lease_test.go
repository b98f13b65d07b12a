package checkpointfmt

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeaseFormatRoundTrip(t *testing.T) {
	l := Lease{Epoch: 7, Expires: time.UnixMilli(1765000000123), Holder: "host-a/4242/0a1b2c3d"}
	assert.Equal(t, "7;1765000000123;host-a/4242/0a1b2c3d", string(l.Format()))
	got, err := ParseLease(l.Format())
	require.NoError(t, err)
	assert.Equal(t, l.Epoch, got.Epoch)
	assert.True(t, l.Expires.Equal(got.Expires))
	assert.Equal(t, l.Holder, got.Holder)
}

func TestParseLeaseRefusesCutValues(t *testing.T) {
	full := string(Lease{Epoch: 3, Expires: time.UnixMilli(1765000000123), Holder: "h/1/ff"}.Format())
	for _, v := range []string{"", "3", "3;", "3;1765000000123", "3;1765000000123;", "0;1;h", "x;1;h", "3;-5;h", "3;abc;h"} {
		_, err := ParseLease([]byte(v))
		assert.Error(t, err, "%q", v)
	}
	for n := range len(full) - len("h/1/ff") + 1 { // a cut before the holder's first byte
		_, err := ParseLease([]byte(full[:n]))
		assert.Error(t, err, "%q", full[:n])
	}
}

func TestLeaseAndProbeKeysAreNoChannelKey(t *testing.T) {
	for _, ch := range []string{"/event/Order__e", "/data/ChangeEvents", "/u/lease"} {
		assert.NotEqual(t, LeaseKey("p"), CheckpointKey("p", ch))
		assert.NotEqual(t, ProbeKey("p"), CheckpointKey("p", ch))
	}
	assert.Equal(t, "orders:lease", LeaseKey("orders"))
}
