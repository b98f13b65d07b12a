package sql

import (
	"fmt"
	"os"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// initStatement is SQL run once on the first connection, with where it came
// from (a file of init_files, or init_statement) for errors.
type initStatement struct {
	text, from string
}

// initStatements reads init_files (glob patterns, `**` included, expanded in
// order) and then init_statement, in the order Connect runs them.
func initStatements(conf *service.ParsedConfig) ([]initStatement, error) {
	var out []initStatement
	if conf.Contains(fieldInitFiles) {
		patterns, err := conf.FieldStringList(fieldInitFiles)
		if err != nil {
			return nil, err
		}
		files, err := service.Globs(service.OSFS(), patterns...)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", fieldInitFiles, err)
		}
		if len(patterns) > 0 && len(files) == 0 {
			return nil, fmt.Errorf("field %s: no file matches %v", fieldInitFiles, patterns)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", fieldInitFiles, err)
			}
			out = append(out, initStatement{text: string(b), from: fieldInitFiles + " " + f})
		}
	}
	if conf.Contains(fieldInitStatement) {
		s, err := conf.FieldString(fieldInitStatement)
		if err != nil {
			return nil, err
		}
		if s != "" {
			out = append(out, initStatement{text: s, from: fieldInitStatement})
		}
	}
	return out, nil
}
