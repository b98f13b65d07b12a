package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func recs(ch string, ids ...int64) []Record {
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = Record{Channel: ch, ReplayID: id}
	}
	return out
}

func TestCheck(t *testing.T) {
	const a, b = "/event/A__e", "/u/B"
	published := Published{a: {10, 12, 14, 16}, b: {3, 4}}
	tests := []struct {
		name       string
		runs       [][]Record
		missing    map[string][]int64
		unexpected map[string][]int64
		order      int
		dups       map[string]int
		dupsInRun  map[string]int
	}{
		{
			name: "everything once in order",
			runs: [][]Record{append(recs(a, 10, 12), append(recs(b, 3, 4), recs(a, 14, 16)...)...)},
		},
		{
			name:    "a gap is missing",
			runs:    [][]Record{append(recs(a, 10, 16), recs(b, 3, 4)...)},
			missing: map[string][]int64{a: {12, 14}},
		},
		{
			name: "a restart replays its in-flight window",
			runs: [][]Record{append(recs(a, 10, 12, 14), recs(b, 3)...), append(recs(a, 12, 14, 16), recs(b, 3, 4)...)},
			dups: map[string]int{a: 2, b: 1},
		},
		{
			name:  "a late first delivery is an order violation",
			runs:  [][]Record{append(recs(a, 10, 14, 12, 16), recs(b, 3, 4)...)},
			order: 1,
		},
		{
			name:      "a redelivery inside a run is a duplicate, not an order violation",
			runs:      [][]Record{append(recs(a, 10, 12, 14, 12, 16), recs(b, 3, 4)...)},
			dups:      map[string]int{a: 1},
			dupsInRun: map[string]int{a: 1},
		},
		{
			name:       "ids never published are unexpected",
			runs:       [][]Record{append(recs(a, 10, 11, 12, 14, 16), recs(b, 3, 4)...), recs("/u/C", 1)},
			unexpected: map[string][]int64{a: {11}, "/u/C": {1}},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			r := Check(published, test.runs...)
			assert.Equal(t, orEmpty(test.missing), r.Missing, "missing")
			assert.Equal(t, orEmpty(test.unexpected), r.Unexpected, "unexpected")
			assert.Len(t, r.Order, test.order, "order violations: %v", r.Order)
			assert.Equal(t, orEmptyCount(test.dups), r.Duplicates, "duplicates")
			assert.Equal(t, orEmptyCount(test.dupsInRun), r.DuplicatesWithinRun, "duplicates within a run")
			assert.Equal(t, test.missing == nil && test.unexpected == nil && test.order == 0, r.OK(), "OK: %s", r)
		})
	}
}

func orEmpty(m map[string][]int64) map[string][]int64 {
	if m == nil {
		return map[string][]int64{}
	}
	return m
}

func orEmptyCount(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

func TestReadRecords(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string // "" with missing: no file
		missing bool
		want    []Record
		errText string
	}{
		{name: "no file is no records", missing: true},
		{name: "lines", content: "{\"channel\":\"/u/A\",\"replay_id\":1}\n{\"channel\":\"/u/A\",\"replay_id\":2}\n", want: recs("/u/A", 1, 2)},
		{name: "a torn last line is ignored", content: "{\"channel\":\"/u/A\",\"replay_id\":1}\n{\"channel\":\"/u/", want: recs("/u/A", 1)},
		{name: "a complete last line without newline counts", content: "{\"channel\":\"/u/A\",\"replay_id\":1}", want: recs("/u/A", 1)},
		{name: "garbage inside is an error", content: "nope\n{\"channel\":\"/u/A\",\"replay_id\":1}\n", errText: "line 1"},
	}
	for i, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".jsonl")
			if !test.missing {
				require.NoError(t, os.WriteFile(path, []byte(test.content), 0o600))
			}
			got, err := ReadRecords(path)
			if test.errText != "" {
				assert.ErrorContains(t, err, test.errText)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, test.want, got)
		})
	}
}
