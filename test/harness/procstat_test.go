package harness

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "plain command",
			stat: "4242 (benthos) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 37 0 0 20 0 12 0 100 2000000 5000",
			want: 2870 * time.Millisecond,
		},
		{
			name: "command with spaces and parentheses",
			stat: "7 (node (a) b) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 100 10",
			want: 30 * time.Millisecond,
		},
		{name: "truncated", stat: "7 (x) R 1 2 3", wantErr: true},
		{name: "no command", stat: "7 x R", wantErr: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 u 2 0 0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tbenthos\nVmPeak:\t  900000 kB\nVmHWM:\t   61440 kB\nVmRSS:\t   51200 kB\nThreads:\t12\n")
	hwm, err := statusKB(status, "VmHWM")
	require.NoError(t, err)
	assert.Equal(t, int64(61440*1024), hwm)
	rss, err := statusKB(status, "VmRSS")
	require.NoError(t, err)
	assert.Equal(t, int64(51200*1024), rss)
	_, err = statusKB([]byte("Name:\tzombie\nState:\tZ (zombie)\n"), "VmHWM")
	assert.Error(t, err, "a zombie has no memory lines")
	_, err = statusKB([]byte("VmHWM:\t12 MB\n"), "VmHWM")
	assert.Error(t, err)
}

func TestReadProcStatSelf(t *testing.T) {
	// Burn some CPU so that at least one clock tick is charged.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	ps, err := ReadProcStat(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, ps.CPU)
	assert.Positive(t, ps.RSS)
	assert.GreaterOrEqual(t, ps.PeakRSS, ps.RSS)

	_, err = ReadProcStat(-1)
	assert.Error(t, err)
}
