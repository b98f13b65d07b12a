package org

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkMillionAccounts holds 1,000,000 generated Account records and reports the heap they occupy and the
// process's resident set (the bound is 1.5 GB RSS; docs/emulator.md records the figures).
func BenchmarkMillionAccounts(b *testing.B) {
	for range b.N {
		o, err := New(Config{OrgID: "00D5e000000SfEmUAQ", UserID: testUser, Seed: 1, Now: func() time.Time { return time.Unix(1_780_000_000, 0) }})
		if err != nil {
			b.Fatal(err)
		}
		if err := o.Populate("Account", 1_000_000); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
		b.ReportMetric(float64(rssBytes())/(1<<20), "rss-MB")
		res, err := o.Query("SELECT COUNT() FROM Account WHERE Industry = 'Energy'", false)
		if err != nil || res.TotalSize == 0 {
			b.Fatalf("query over the million records: %v, %+v", err, res)
		}
		runtime.KeepAlive(o)
	}
}

// rssBytes reads VmHWM (peak resident set) from /proc/self/status; 0 where there is none.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
