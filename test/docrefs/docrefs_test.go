// Package docrefs checks that the repository is self-contained: every comment
// or document that cites a Markdown file, or a path into a sibling "shared"
// folder, cites a file the repository holds. A newcomer reading a comment must
// be able to open what it points at.
package docrefs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	// A URL is a citation of someone else's page, not of a file here.
	urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)\]>"'` + "`" + `]+`)
	// A cited Markdown file: a path or bare name ending in .md.
	mdPattern = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)
	// A path into a folder beside the repository.
	sharedPattern = regexp.MustCompile(`\.\./shared\b[^\s)\]"'` + "`" + `]*`)
)

// Files whose text is scanned, by extension.
var scanned = map[string]bool{".go": true, ".md": true, ".yaml": true, ".yml": true, ".sh": true}

// This package's test files, whose test cases cite missing files on purpose.
var self = map[string]bool{
	filepath.Join("test", "docrefs", "docrefs_test.go"): true,
	filepath.Join("test", "docrefs", "links_test.go"):   true,
}

// Folders that are not the repository's own text.
var skipped = map[string]bool{".git": true, "node_modules": true, "bin": true, "data": true}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's directory")
		dir = parent
	}
	require.FailNow(t, "no go.mod within 20 levels")
	return ""
}

// references returns the Markdown files and ../shared paths that text cites.
func references(text string) []string {
	text = urlPattern.ReplaceAllString(text, " ")
	refs := mdPattern.FindAllString(text, -1)
	refs = append(refs, sharedPattern.FindAllString(text, -1)...)
	return refs
}

// resolves reports whether ref, cited from the file at rel (relative to root),
// names a file in the repository: relative to the citing file's folder (a
// Markdown link) or to the repository's root (a comment's `docs/x.md`).
func resolves(root, rel, ref string) bool {
	if strings.Contains(ref, "../shared") {
		return false
	}
	for _, base := range []string{filepath.Join(root, filepath.Dir(rel)), root} {
		path := filepath.Clean(filepath.Join(base, ref))
		if !strings.HasPrefix(path, root+string(filepath.Separator)) {
			continue // outside the repository, even if it exists
		}
		if info, err := os.Stat(path); err == nil && !info.IsDir() {
			return true
		}
	}
	return false
}

func TestReferencesFindCitations(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"see notes.md, \"Layout\"", []string{"notes.md"}},
		{"(docs/emulator.md) and [x](guarantees.md#nacks)", []string{"docs/emulator.md", "guarantees.md"}},
		{"https://developer.salesforce.com/docs/README.md only", nil},
		{"notes in ../shared/docs/wire.md", []string{"../shared/docs/wire.md", "../shared/docs/wire.md"}},
		{"the markdown format, a .md file", nil},
	}
	for _, c := range cases {
		assert.ElementsMatch(t, c.want, references(c.text), "%q", c.text)
	}
}

func TestResolves(t *testing.T) {
	root := repoRoot(t)
	assert.True(t, resolves(root, "internal/bayeux/doc.go", "docs/guarantees.md"))
	assert.True(t, resolves(root, "docs/chaos.md", "guarantees.md"))
	assert.True(t, resolves(root, "docs/chaos.md", "../README.md"))
	assert.False(t, resolves(root, "internal/bayeux/doc.go", "guarantees.md"))
	assert.False(t, resolves(root, "test/sfchaos/plan.go", "notes.md"))
	assert.False(t, resolves(root, "README.md", "../shared/docs/wire.md"))
}

func TestEveryCitedFileIsInTheRepository(t *testing.T) {
	root := repoRoot(t)
	seen := 0
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
		if !scanned[filepath.Ext(path)] {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if self[rel] {
			return nil // its examples are citations on purpose
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		seen++
		for i, line := range strings.Split(string(data), "\n") {
			for _, ref := range references(line) {
				assert.True(t, resolves(root, rel, ref),
					"%s:%d cites %s, which is not a file in the repository", rel, i+1, ref)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, seen, 100, "the walk must reach the repository's files")
}
