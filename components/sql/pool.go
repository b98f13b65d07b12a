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
	if conf.Contains(fieldConnMaxIdleTime) {
		if p.maxIdleTime, err = conf.FieldDuration(fieldConnMaxIdleTime); err != nil {
			return p, err
		}
	}
	if conf.Contains(fieldConnMaxLifeTime) {
		if p.maxLifeTime, err = conf.FieldDuration(fieldConnMaxLifeTime); err != nil {
			return p, err
		}
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

func (p poolSettings) apply(db *dbsql.DB) {
	db.SetConnMaxIdleTime(p.maxIdleTime)
	db.SetConnMaxLifetime(p.maxLifeTime)
	db.SetMaxIdleConns(p.maxIdle)
	db.SetMaxOpenConns(p.maxOpen)
}
