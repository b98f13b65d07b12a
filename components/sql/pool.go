package sql

import (
	dbsql "database/sql"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// poolSettings are the connection pool fields; zero means database/sql's
// default (no limit) for each.
type poolSettings struct {
	maxIdleTime time.Duration
	maxLifeTime time.Duration
	maxIdle     int
	maxOpen     int
}

func parsePool(conf *service.ParsedConfig) (poolSettings, error) {
	p := poolSettings{maxIdle: defaultConnMaxIdle}
	var err error
	if p.maxIdleTime, err = optionalDuration(conf, fieldConnMaxIdleTime); err != nil {
		return p, err
	}
	if p.maxLifeTime, err = optionalDuration(conf, fieldConnMaxLifeTime); err != nil {
		return p, err
	}
	if p.maxIdle, err = conf.FieldInt(fieldConnMaxIdle); err != nil {
		return p, err
	}
	if conf.Contains(fieldConnMaxOpen) {
		if p.maxOpen, err = conf.FieldInt(fieldConnMaxOpen); err != nil {
			return p, err
		}
	}
	return p, nil
}

// optionalDuration reads a duration field that may be absent or "" (how
// Connect's documented config block and `benthos create` write it): both
// mean no limit.
func optionalDuration(conf *service.ParsedConfig, field string) (time.Duration, error) {
	if s, _ := conf.FieldString(field); s == "" {
		return 0, nil
	}
	return conf.FieldDuration(field)
}

func (p poolSettings) apply(db *dbsql.DB) {
	db.SetConnMaxIdleTime(p.maxIdleTime)
	db.SetConnMaxLifetime(p.maxLifeTime)
	db.SetMaxIdleConns(p.maxIdle)
	db.SetMaxOpenConns(p.maxOpen)
}
