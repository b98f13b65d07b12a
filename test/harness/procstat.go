package harness

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. The
// kernel exports 100 on every Linux architecture Go runs on, whatever
// CONFIG_HZ is, so it is a constant here rather than a cgo sysconf call.
const clockTicks = 100

// ProcStat is what Linux reports of a process' resource use: the figures a
// benchmark quotes (CPU seconds, peak memory).
type ProcStat struct {
	CPU     time.Duration // user + system CPU time since the process started
	RSS     int64         // resident set size now, bytes (VmRSS)
	PeakRSS int64         // peak resident set size, bytes (VmHWM)
}

// ReadProcStat reads /proc/<pid>/stat and /proc/<pid>/status. Read it before
// the process exits: an exited process' memory figures are gone (a zombie has
// no VmHWM), so a benchmark reads it, then stops the process.
func ReadProcStat(pid int) (ProcStat, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return ProcStat{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStat{}, fmt.Errorf("reading memory of pid %d: %w", pid, err)
	}
	ps := ProcStat{CPU: cpu}
	if ps.RSS, err = statusKB(status, "VmRSS"); err != nil {
		return ProcStat{}, fmt.Errorf("parsing /proc/%d/status: %w", pid, err)
	}
	if ps.PeakRSS, err = statusKB(status, "VmHWM"); err != nil {
		return ProcStat{}, fmt.Errorf("parsing /proc/%d/status: %w", pid, err)
	}
	return ps, nil
}

// parseStatCPU returns utime+stime of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may itself hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	fields := bytes.Fields(stat[end+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("only %d fields after the command name", len(fields))
	}
	var ticks int64
	for _, i := range []int{utime, stime} {
		n, err := strconv.ParseInt(string(fields[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %d: %w", i+3, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statusKB returns a "Key:   123 kB" line of /proc/<pid>/status in bytes.
func statusKB(status []byte, key string) (int64, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(name) != key {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%s: unexpected value %q", key, rest)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s line (has the process exited?)", key)
}
