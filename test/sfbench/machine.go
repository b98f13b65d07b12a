package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the figures were measured: they mean little without it.
type machine struct {
	cpus    int
	model   string
	kernel  string
	goVer   string
	node    string
	loadavg string // 1, 5 and 15 minute load averages when the run started: other work on the machine
}

func readMachine(ctx context.Context) machine {
	m := machine{cpus: runtime.NumCPU(), goVer: runtime.Version(), model: "unknown", kernel: "unknown", node: "not found"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.model = cpuModel(b)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.loadavg = strings.Join(f[:3], " ")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "node", "--version").Output(); err == nil {
		m.node = strings.TrimSpace(string(out))
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo []byte) string {
	for line := range bytes.SplitSeq(cpuinfo, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && string(bytes.TrimSpace(k)) == "model name" {
			return string(bytes.TrimSpace(v))
		}
	}
	return "unknown"
}

func (m machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s, Node.js %s, load average %s", m.cpus, m.model, m.kernel, m.goVer, m.node, m.loadavg)
}

func (m machine) markdown() string {
	return fmt.Sprintf("Machine: %d CPUs (`nproc`), %s, Linux %s, %s, Node.js %s; load average at start %s. "+
		"The emulator, the client under test and this harness share these CPUs.",
		m.cpus, m.model, m.kernel, m.goVer, m.node, m.loadavg)
}
