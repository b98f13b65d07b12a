package sql

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// redactedText replaces what the output must never show.
const redactedText = "[redacted]"

// redactor removes the DSN and the password it holds from error texts:
// drivers quote parts of their connection string in some errors, and Benthos
// logs what an output returns.
type redactor struct {
	secrets []string // longest first, so a password inside the DSN goes with it
}

func newRedactor(d driver, dsn string) redactor {
	secrets := []string{dsn}
	var password string
	switch d {
	case driverPostgres:
		if conf, err := pgconn.ParseConfig(dsn); err == nil {
			password = conf.Password
		}
	case driverMySQL:
		if conf, err := mysql.ParseDSN(dsn); err == nil {
			password = conf.Passwd
		}
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && password == "" {
			password = p
		}
	}
	if password != "" {
		secrets = append(secrets, password, url.QueryEscape(password), url.PathEscape(password))
	}
	r := redactor{}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// scrub returns err with every secret replaced, or err itself when its text
// holds none. The scrubbed error does not wrap the original: whatever walks
// the chain (a logger printing causes) must not find the secret there.
func (r redactor) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.text(msg)
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

func (r redactor) text(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redactedText)
	}
	return s
}
