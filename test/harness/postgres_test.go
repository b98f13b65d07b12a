package harness

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMajorVersion(t *testing.T) {
	tests := []struct {
		dir  string
		want int
	}{
		{dir: "/usr/lib/postgresql/15/bin", want: 15},
		{dir: "/usr/lib/postgresql/9/bin", want: 9},
		{dir: "/usr/lib/postgresql/devel/bin", want: 0},
	}
	for _, test := range tests {
		assert.Equal(t, test.want, majorVersion(test.dir), test.dir)
	}
}

func TestPostgresBinDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(PostgresBinDirEnv, dir)
	_, err := postgresBinDir()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrPostgresNotInstalled), "a directory without pg_ctl is a missing installation: %v", err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "pg_ctl"), []byte("#!/bin/sh\n"), 0o755))
	got, err := postgresBinDir()
	require.NoError(t, err)
	assert.Equal(t, dir, got)
}
