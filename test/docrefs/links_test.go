package docrefs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The links of the repository's Markdown: every relative link names a file or
// folder the repository holds, and every #anchor names a heading (or an
// explicit anchor) of the file it points into, as GitHub renders them.

var (
	// An inline link or image: [text](target) or [text](target "title").
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// A reference definition: [label]: target
	refDefinition = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	// A scheme (https:, mailto:) makes a link someone else's page.
	schemePrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	// An inline code span, whose text is not a link.
	codeSpan = regexp.MustCompile("`+[^`]*`+")
	// An explicit HTML anchor: <a name="x"> or id="x".
	htmlAnchor = regexp.MustCompile(`(?:name|id)="([^"]+)"`)
	// A heading's inline link, rendered as its text.
	headingLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// markdownLine is one line of a Markdown file outside fenced code blocks.
type markdownLine struct {
	n    int // 1-based
	text string
}

// proseLines returns the lines of a Markdown text outside fenced code blocks.
func proseLines(text string) []markdownLine {
	var out []markdownLine
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		out = append(out, markdownLine{n: i + 1, text: line})
	}
	return out
}

// links returns the relative link targets of one prose line.
func links(line string) []string {
	line = codeSpan.ReplaceAllString(line, "")
	var out []string
	for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
		out = append(out, m[1])
	}
	if m := refDefinition.FindStringSubmatch(line); m != nil {
		out = append(out, m[1])
	}
	var rel []string
	for _, target := range out {
		if !schemePrefix.MatchString(target) {
			rel = append(rel, target)
		}
	}
	return rel
}

// slug returns GitHub's anchor of a heading's text: lower case, punctuation
// dropped (letters, digits, spaces, '-' and '_' stay), spaces made '-'.
func slug(heading string) string {
	heading = headingLink.ReplaceAllString(heading, "$1")
	heading = strings.NewReplacer("`", "", "*", "").Replace(heading)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns every anchor of a Markdown text: its headings' slugs
// (repeats numbered -1, -2, as GitHub does) and explicit HTML anchors.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	for _, l := range proseLines(text) {
		trimmed := strings.TrimLeft(l.text, " ")
		if level := len(trimmed) - len(strings.TrimLeft(trimmed, "#")); level >= 1 && level <= 6 &&
			(len(trimmed) == level || trimmed[level] == ' ') {
			s := slug(strings.TrimRight(strings.TrimSpace(trimmed[level:]), "#"))
			if n := count[s]; n > 0 {
				out[fmt.Sprintf("%s-%d", s, n)] = true
			} else {
				out[s] = true
			}
			count[s]++
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(l.text, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// brokenLinks returns a description of every relative link of the Markdown
// file at rel (relative to root) that does not resolve.
func brokenLinks(root, rel string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	var broken []string
	for _, l := range proseLines(string(data)) {
		for _, target := range links(l.text) {
			if problem := checkLink(root, rel, string(data), target); problem != "" {
				broken = append(broken, fmt.Sprintf("%s:%d links %s: %s", rel, l.n, target, problem))
			}
		}
	}
	return broken, nil
}

// checkLink returns why target, linked from the file rel with the given text,
// does not resolve, or "".
func checkLink(root, rel, text, target string) string {
	path, anchor, _ := strings.Cut(target, "#")
	targetText := text
	if path != "" {
		full := filepath.Clean(filepath.Join(root, filepath.Dir(rel), filepath.FromSlash(path)))
		if full != root && !strings.HasPrefix(full, root+string(filepath.Separator)) {
			return "outside the repository"
		}
		info, err := os.Stat(full)
		if err != nil {
			return "no such file or folder in the repository"
		}
		if anchor == "" {
			return ""
		}
		if info.IsDir() || filepath.Ext(full) != ".md" {
			return "an anchor into a file that is not Markdown"
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return err.Error()
		}
		targetText = string(b)
	}
	if anchor != "" && !anchors(targetText)[anchor] {
		return "no heading or anchor #" + anchor
	}
	return ""
}

func TestSlug(t *testing.T) {
	cases := map[string]string{
		"Loopback by default":                            "loopback-by-default",
		"The HTTP API and streams mode":                  "the-http-api-and-streams-mode",
		"`on_invalid_replay_id`: fail, earliest, latest": "on_invalid_replay_id-fail-earliest-latest",
		"Basic auth and TLS for the API":                 "basic-auth-and-tls-for-the-api",
		"What [the input](docs/input.md) does (v2)":      "what-the-input-does-v2",
		"Resume after kill -9":                           "resume-after-kill--9",
	}
	for heading, want := range cases {
		assert.Equal(t, want, slug(heading), "%q", heading)
	}
}

func TestLinks(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{"see [input](docs/input.md#start) and [home](https://example.com/x.md)", []string{"docs/input.md#start"}},
		{"an image ![arch](img/arch.png \"title\")", []string{"img/arch.png"}},
		{"code `[x](y.md)` is not a link", nil},
		{"[ref]: ../README.md", []string{"../README.md"}},
		{"[mail](mailto:security@example.com)", nil},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, links(c.line), "%q", c.line)
	}
}

// The check finds what it must: a missing file, a missing anchor, a link out
// of the repository; and passes what resolves, fenced code excepted.
func TestBrokenLinksFindsBrokenLinks(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	}
	write("docs/a.md", "# A\n\n## Same\n\n## Same\n\n<a name=\"custom\"></a>\n")
	write("docs/b.md", strings.Join([]string{
		"[ok](a.md) [ok](a.md#same-1) [ok](a.md#custom) [ok](#here) [ok](../docs)",
		"[missing](c.md)",
		"[no anchor](a.md#nowhere)",
		"[out](../../etc/passwd)",
		"```",
		"[in code](nothing.md)",
		"```",
		"## Here",
	}, "\n"))
	broken, err := brokenLinks(root, "docs/b.md")
	require.NoError(t, err)
	require.Len(t, broken, 3, "%q", broken)
	assert.Contains(t, broken[0], "c.md: no such file")
	assert.Contains(t, broken[1], "no heading or anchor #nowhere")
	assert.Contains(t, broken[2], "outside the repository")
}

func TestEveryMarkdownLinkResolves(t *testing.T) {
	root := repoRoot(t)
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipped[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(path) != ".md" {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files++
		broken, err := brokenLinks(root, rel)
		if err != nil {
			return err
		}
		for _, b := range broken {
			assert.Fail(t, "broken link", b)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 10, "the walk must reach the repository's Markdown files")
}
