package sfauth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

const (
	// MaxKeyFileBytes bounds a private key file: a PEM RSA key of 8192 bits
	// is under 7 kB, so anything near this is not a key.
	MaxKeyFileBytes = 1 << 20
	// keyFileTimeout bounds opening and reading a key file: a path on a hung
	// network mount, or a file swapped for a FIFO after it was checked, must
	// not stall the input's start-up for good.
	keyFileTimeout = 5 * time.Second
)

// ReadKeyFile reads the private key file name from fsys for the config field
// field (named in every error, the path too: it is not a secret, the content
// is). Only a regular file of at most MaxKeyFileBytes is read, within a
// timeout: a directory, a device such as /dev/zero, a FIFO or a huge file is
// refused with an error instead of filling memory or hanging.
func ReadKeyFile(fsys fs.FS, name, field string) ([]byte, error) {
	return readKeyFile(fsys, name, field, keyFileTimeout)
}

func readKeyFile(fsys fs.FS, name, field string, timeout time.Duration) ([]byte, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", field, err)
	}
	if err := checkKeyFileInfo(info, name, field); err != nil {
		return nil, err
	}
	type result struct {
		raw []byte
		err error
	}
	done := make(chan result, 1)
	// The goroutine ends when the read does; if the file system never
	// answers, it is left blocked, which costs one goroutine, not the input.
	go func() {
		raw, err := readBounded(fsys, name, field)
		done <- result{raw, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.raw, r.err
	case <-timer.C:
		return nil, fmt.Errorf("reading %s %q: no answer within %v (a FIFO, or a hung mount?): point it to a regular PEM key file", field, name, timeout)
	}
}

func checkKeyFileInfo(info fs.FileInfo, name, field string) error {
	switch mode := info.Mode(); {
	case mode.IsDir():
		return fmt.Errorf("%s %q is a directory: point it to the PEM key file", field, name)
	case !mode.IsRegular():
		return fmt.Errorf("%s %q is not a regular file (%s): point it to the PEM key file", field, name, mode.Type())
	case info.Size() > MaxKeyFileBytes:
		return fmt.Errorf("%s %q holds %d bytes, above the %d of any PEM private key: point it to the key file", field, name, info.Size(), MaxKeyFileBytes)
	}
	return nil
}

func readBounded(fsys fs.FS, name, field string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", field, err)
	}
	defer f.Close()
	// Check the opened file too: the path may have been replaced since Stat.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", field, err)
	}
	if err := checkKeyFileInfo(info, name, field); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", field, err)
	}
	if len(raw) > MaxKeyFileBytes {
		return nil, fmt.Errorf("%s %q holds more than %d bytes, above any PEM private key: point it to the key file", field, name, MaxKeyFileBytes)
	}
	if len(raw) == 0 {
		return nil, errors.New(field + " " + fmt.Sprintf("%q", name) + " is empty: point it to the PEM key file")
	}
	return raw, nil
}
