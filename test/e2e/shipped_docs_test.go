package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

var (
	// A config/ file named on a command line.
	configArg = regexp.MustCompile(`-c\s+(config/[A-Za-z0-9_.-]+\.yaml)`)
	// A channel the emulator generates events on: -generate CHANNEL=RATE.
	generateArg = regexp.MustCompile(`-generate[ =](/[^=\s]+)=`)
)

// commandBlocks returns the shell snippets of a file: the fenced code blocks
// of Markdown, the leading comment block of a YAML config, a whole script;
// continuation lines joined.
func commandBlocks(file, text string) []string {
	var blocks []string
	switch filepath.Ext(file) {
	case ".md":
		var cur []string
		in := false
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				if in {
					blocks = append(blocks, strings.Join(cur, "\n"))
					cur = nil
				}
				in = !in
				continue
			}
			if in {
				cur = append(cur, line)
			}
		}
	case ".yaml":
		blocks = append(blocks, strings.ReplaceAll(header(text), "#", ""))
	default:
		blocks = append(blocks, text)
	}
	for i, b := range blocks {
		blocks[i] = strings.ReplaceAll(b, "\\\n", " ")
	}
	return blocks
}

// configChannels returns the channels a config subscribes to, filters taken off.
func configChannels(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var conf struct {
		Input struct {
			SalesforceStreaming struct {
				Channels []string `yaml:"channels"`
			} `yaml:"salesforce_streaming"`
		} `yaml:"input"`
	}
	require.NoError(t, yaml.Unmarshal(b, &conf), "%s", file)
	var out []string
	for _, ch := range conf.Input.SalesforceStreaming.Channels {
		ch, _, _ = strings.Cut(ch, "?")
		out = append(out, ch)
	}
	return out
}

// A documented emulator command next to a pipeline generates events on every
// channel the pipeline subscribes to: a channel the emulator does not know
// fails the subscription, and the demo logs errors.
func TestDocumentedEmulatorCoversPipelineChannels(t *testing.T) {
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	var files []string
	for _, pattern := range []string{"*.md", "docs/*.md", "config/*.yaml", "scripts/*.sh"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, f)
		for _, block := range commandBlocks(f, string(b)) {
			gens := generateArg.FindAllStringSubmatch(block, -1)
			confs := configArg.FindAllStringSubmatch(block, -1)
			if len(gens) == 0 || len(confs) == 0 {
				continue
			}
			generated := map[string]bool{}
			for _, g := range gens {
				generated[g[1]] = true
			}
			for _, c := range confs {
				checked++
				for _, ch := range configChannels(t, filepath.Join(root, c[1])) {
					assert.True(t, generated[ch], "%s: the emulator command next to %s generates no events on %s", rel, c[1], ch)
				}
			}
		}
	}
	// README's restart demo and demo.yaml's header at least.
	assert.GreaterOrEqual(t, checked, 2, "documented emulator commands found")
}
