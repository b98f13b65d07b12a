package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithoutCDC(t *testing.T) {
	channels, err := parseChannels(defaultChannels)
	require.NoError(t, err)
	var got []string
	for _, ch := range withoutCDC(channels) {
		got = append(got, ch.Configured)
	}
	assert.Equal(t, []string{"/event/ChaosOrder__e", "/topic/ChaosTasks", "/topic/ChaosInvoices?Status__c=Open", "/u/ChaosAlerts"}, got)
	assert.Empty(t, withoutCDC(nil))
}

func TestMirrorRecordArgs(t *testing.T) {
	assert.Equal(t, []string{"-records", "Account=300", "-records", "Contact=40"},
		mirrorRecordArgs(options{mirrorAccounts: 300, mirrorContacts: 40}))
}

func TestJudgeMirror(t *testing.T) {
	mirrored := mirrorResult{enabled: true, accounts: 2000, contacts: 1000, converged: true, convergeIn: 3 * time.Second,
		mutations: map[string]int{"change": 900, "gap": 60, "overflow": 120}, runs: 6, kills: 4, stops: 1, purged: true}
	tests := []struct {
		name        string
		mirror      mirrorResult
		wantFailure string
		wantLine    string
	}{
		{name: "off", mirror: mirrorResult{}},
		{name: "equal", mirror: mirrored,
			wantLine: "EQUAL to the org's records  (2000 Accounts, 1000 Contacts; changes 900, gap 60, overflow 120; 6 runs, kill -9 4, graceful 1, past retention 1; converged 3.00s after the drain)"},
		{name: "a stale row", mirror: func() mirrorResult {
			m := mirrored
			m.converged, m.diff = false, `sf_account: 001000000000001AAA.Name is "a", the org has "b"`
			return m
		}(), wantFailure: `the mirror's tables differ from the org's records 3s after the drain: sf_account: 001000000000001AAA.Name is "a", the org has "b"`,
			wantLine: "DIFFERENT: sf_account: 001000000000001AAA.Name"},
		{name: "never past retention", mirror: func() mirrorResult {
			m := mirrored
			m.purged = false
			return m
		}(), wantFailure: "the mirror's replay ids never fell out of retention: no kill -9 in the chaos' second half",
			wantLine: "past retention 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := passingResult()
			r.mirror = tc.mirror
			v := r.judge()
			if tc.wantFailure == "" {
				assert.True(t, v.OK(), "%v", v.Failures)
			} else {
				assert.Contains(t, v.Failures, tc.wantFailure)
			}
			var out bytes.Buffer
			r.writeSummary(&out, v)
			if tc.wantLine == "" {
				assert.NotContains(t, out.String(), "  mirror ")
				return
			}
			assert.Contains(t, out.String(), tc.wantLine)
		})
	}
}

func TestMirrorArgs(t *testing.T) {
	assert.Equal(t, []string{"--set", "http.enabled=false", "--set", "input.salesforce_streaming.lease.ttl=5s",
		"--set", "input.salesforce_streaming.backoff.initial_interval=100ms",
		"--set", "input.salesforce_streaming.backoff.long_interval=2s",
		"--set", "input.salesforce_streaming.backoff.max_interval=1s"}, mirrorArgs(),
		"the shipped mirror runs with the soak's lease ttl and short back-off")
}
