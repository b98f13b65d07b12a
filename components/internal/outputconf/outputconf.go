// Package outputconf reads the configuration our outputs share: the batching
// policy and max_in_flight every batched output registers with, and lists of
// server addresses that users write one per entry or comma-separated.
package outputconf

import (
	"fmt"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// FieldBatching is the batching policy field of every batched output.
const FieldBatching = "batching"

// Delivery reads an output's batching policy and max_in_flight.
func Delivery(conf *service.ParsedConfig) (service.BatchPolicy, int, error) {
	policy, err := conf.FieldBatchPolicy(FieldBatching)
	if err != nil {
		return policy, 0, err
	}
	maxInFlight, err := conf.FieldMaxInFlight()
	if err != nil {
		return policy, 0, err
	}
	return policy, maxInFlight, nil
}

// AddressList reads the string list field, splitting entries on commas and
// dropping blanks, and refuses an empty result naming the field and what it
// lists (e.g. "broker address").
func AddressList(conf *service.ParsedConfig, field, what string) ([]string, error) {
	entries, err := conf.FieldStringList(field)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		for _, a := range strings.Split(e, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("field %s: at least one %s is required", field, what)
	}
	return out, nil
}

// RegisterBatchOutput registers a batched output whose constructor needs only
// its parsed config: batching and max_in_flight are read here.
func RegisterBatchOutput[O service.BatchOutput](name string, spec *service.ConfigSpec, newOutput func(*service.ParsedConfig) (O, error)) {
	service.MustRegisterBatchOutput(name, spec,
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			policy, maxInFlight, err := Delivery(conf)
			if err != nil {
				return nil, policy, 0, err
			}
			out, err := newOutput(conf)
			if err != nil {
				return nil, policy, 0, err
			}
			return out, policy, maxInFlight, nil
		})
}
