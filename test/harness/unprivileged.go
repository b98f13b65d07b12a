package harness

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
)

// unprivilegedUser is the account database servers run as when the harness
// runs as root: PostgreSQL refuses to start as root, and MariaDB wants an
// explicit --user for it.
const unprivilegedUser = "nobody"

// account is who a server process runs as: nil when the harness is not root
// and the servers simply run as the current user.
type account struct {
	uid, gid int
	setpriv  string // path of setpriv(1), which drops to uid/gid and execs
}

// serverAccount returns the account servers run as.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(unprivilegedUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, a server needs the unprivileged user %q: %w", unprivilegedUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %q has a non-numeric uid %q", unprivilegedUser, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %q has a non-numeric gid %q", unprivilegedUser, u.Gid)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return nil, fmt.Errorf("running as root, servers are started through setpriv (util-linux), which is not installed: %w", err)
	}
	return &account{uid: uid, gid: gid, setpriv: setpriv}, nil
}

// command returns the path and arguments that run path with args as the
// account: through setpriv, which execs, so the process id is the server's
// own and signals reach it directly.
func (a *account) command(path string, args ...string) (string, []string) {
	if a == nil {
		return path, args
	}
	wrapped := append([]string{
		"--reuid=" + strconv.Itoa(a.uid), "--regid=" + strconv.Itoa(a.gid), "--clear-groups", "--", path,
	}, args...)
	return a.setpriv, wrapped
}

// serverDir creates a fresh directory for a server's data that the account
// owns. It lives in the system temp dir, not under a test's dir: the parents
// of that one are private to root, and the account could not reach into it.
func serverDir(a *account, pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("creating a server directory: %w", err)
	}
	if a != nil {
		if err := os.Chown(dir, a.uid, a.gid); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("handing %s to %s: %w", dir, unprivilegedUser, err)
		}
	}
	return dir, nil
}

// keepLog copies a server's log from its private directory into dir (the
// scenario's directory, kept on failure) before that directory is removed.
func keepLog(src, dir, name string) {
	b, err := os.ReadFile(src)
	if err != nil || dir == "" {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name), b, 0o644)
}
