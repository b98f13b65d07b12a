package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// No Docker engine runs the tests: these check what can be checked without
// one. That the binary the image copies is static is checked on the built
// bin/benthos in test/e2e (TestBinaryIsStatic).

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is one FROM and the instructions under it.
type stage struct {
	from, name string
	ins        []instruction
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// parseDockerfile returns the ARGs before the first FROM, and the stages.
func parseDockerfile(t *testing.T, file string) (map[string]string, []stage) {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	require.NoError(t, sc.Err())

	globalArgs := map[string]string{}
	var stages []stage
	for _, l := range lines {
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		switch {
		case in.cmd == "FROM":
			fields := strings.Fields(in.args)
			s := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case len(stages) > 0:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return globalArgs, stages
}

// goDirective returns the go line of go.mod (e.g. 1.26.8).
func goDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	require.NotNil(t, m, "go directive in go.mod")
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	args, stages := parseDockerfile(t, filepath.Join(moduleRoot(t), "Dockerfile"))
	require.Len(t, stages, 2, "multi-stage: build, then runtime")
	build, runtime := stages[0], stages[1]

	t.Run("build stage: golang at go.mod's version", func(t *testing.T) {
		assert.Equal(t, "build", build.name)
		assert.True(t, strings.HasPrefix(build.from, "golang:${GO_VERSION}"), build.from)
		assert.Equal(t, goDirective(t), args["GO_VERSION"], "the image's Go is go.mod's")
	})

	t.Run("build stage runs the Makefile's target", func(t *testing.T) {
		assert.Contains(t, build.all("RUN"), "make bin/benthos")
	})

	t.Run("runtime: distroless/static, non-root, /benthos", func(t *testing.T) {
		assert.True(t, strings.HasPrefix(runtime.from, "gcr.io/distroless/static"), runtime.from)
		users := runtime.all("USER")
		require.Len(t, users, 1)
		user, _, _ := strings.Cut(users[0], ":")
		assert.NotContains(t, []string{"", "0", "root"}, user, "non-root")
		entrypoint := imageEntrypoint(t, runtime)
		assert.Equal(t, "/benthos", entrypoint[0])
	})

	// Inside a container, loopback is the container's own: probes, scrapes
	// and `-p 4195:4195` reach only an API listening on all interfaces.
	t.Run("runtime: the API listens on all interfaces at the exposed port", func(t *testing.T) {
		entrypoint := imageEntrypoint(t, runtime)
		exposed := runtime.all("EXPOSE")
		require.Len(t, exposed, 1, "one exposed port")
		port := strings.TrimSuffix(exposed[0], "/tcp")

		got := effectiveHTTPAddress(t, entrypoint[1:]...)
		host, gotPort, err := net.SplitHostPort(got)
		require.NoError(t, err, "http.address %q", got)
		assert.Equal(t, "0.0.0.0", host, "the image's entrypoint sets http.address to all interfaces")
		assert.Equal(t, port, gotPort, "http.address listens on the EXPOSEd port")

		_, defaultPort, err := net.SplitHostPort(defaultHTTPAddress)
		require.NoError(t, err)
		assert.Equal(t, port, defaultPort, "the image exposes the binary's default port")
	})

	t.Run("runtime copies the built binary, config/ and resources/", func(t *testing.T) {
		workdirs := build.all("WORKDIR")
		require.NotEmpty(t, workdirs)
		src := workdirs[len(workdirs)-1]
		copies := runtime.all("COPY")
		assert.Contains(t, copies, "--from=build "+path.Join(src, "bin/benthos")+" /benthos", "the file `make bin/benthos` writes")
		assert.Contains(t, copies, "--from=build "+path.Join(src, "config")+"/ /config/")
		assert.Contains(t, copies, "--from=build "+path.Join(src, "resources")+"/ /resources/")
	})
}

// imageEntrypoint returns the runtime stage's one ENTRYPOINT, in exec form.
func imageEntrypoint(t *testing.T, runtime stage) []string {
	t.Helper()
	eps := runtime.all("ENTRYPOINT")
	require.Len(t, eps, 1, "one ENTRYPOINT")
	var args []string
	require.NoError(t, json.Unmarshal([]byte(eps[0]), &args), "ENTRYPOINT in exec form (a JSON array): %s", eps[0])
	require.NotEmpty(t, args)
	return args
}

// effectiveHTTPAddress runs this binary's CLI in-process as `benthos ARGS...
// echo CONFIG` and returns the http.address of the config it echoes: the
// address a run with these arguments listens on, defaults included.
func effectiveHTTPAddress(t *testing.T, args ...string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "min.yaml")
	require.NoError(t, os.WriteFile(conf, []byte("input: { stdin: {} }\noutput: { drop: {} }\n"), 0o600))

	// Benthos writes the echo to os.Stdout, read when the CLI starts.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	cli := append([]string{"benthos"}, args...)
	cli = append(cli, "echo", conf)
	opts := append([]service.CLIOptFunc{service.CLIOptSetArgs(cli...)}, secureAPIOptions()...)
	code, runErr := service.RunCLIToCode(context.Background(), opts...)
	os.Stdout = stdout
	require.NoError(t, w.Close())
	echoed := <-out
	require.NoError(t, runErr)
	require.Equal(t, 0, code, "benthos %q:\n%s", cli, echoed)

	var doc struct {
		HTTP struct {
			Address string `yaml:"address"`
		} `yaml:"http"`
	}
	require.NoError(t, yaml.Unmarshal(echoed, &doc), "echoed config:\n%s", echoed)
	require.NotEmpty(t, doc.HTTP.Address, "echoed config has http.address:\n%s", echoed)
	return doc.HTTP.Address
}

// The bare binary, with no arguments of the image, keeps the loopback default.
func TestBareBinaryListensOnLoopback(t *testing.T) {
	assert.Equal(t, defaultHTTPAddress, effectiveHTTPAddress(t))
	host, _, err := net.SplitHostPort(defaultHTTPAddress)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
}

// `make bin/benthos`, the Dockerfile's build command, builds ./cmd/benthos
// into bin/benthos with cgo off: a static binary, as distroless/static needs.
func TestMakeTargetBuildsStatic(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not on PATH (apt-get install make)")
	}
	cmd := exec.Command(makeBin, "-n", "bin/benthos")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make -n bin/benthos:\n%s", out)
	var builds []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " build ") {
			builds = append(builds, l)
		}
	}
	require.Len(t, builds, 1, "one go build:\n%s", out)
	b := builds[0]
	assert.True(t, strings.HasPrefix(b, "CGO_ENABLED=0 "), b)
	assert.Contains(t, b, "-o bin/benthos ./cmd/benthos")
	assert.Regexp(t, `-X main\.Version=v\d+\.\d+\.\d+`, b, "a semantic version")
}
