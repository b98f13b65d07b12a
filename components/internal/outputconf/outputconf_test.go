package outputconf

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddressList(t *testing.T) {
	spec := service.NewConfigSpec().Field(service.NewStringListField("urls"))
	tests := []struct {
		name    string
		yaml    string
		want    []string
		wantErr string
	}{
		{name: "one per entry", yaml: `urls: [ "a:1", "b:2" ]`, want: []string{"a:1", "b:2"}},
		{name: "comma-separated with blanks", yaml: `urls: [ " a:1 , ,b:2", "c:3" ]`, want: []string{"a:1", "b:2", "c:3"}},
		{name: "only blanks", yaml: `urls: [ " , " ]`, wantErr: "field urls: at least one URL is required"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			conf, err := spec.ParseYAML(test.yaml, nil)
			require.NoError(t, err)
			got, err := AddressList(conf, "urls", "URL")
			if test.wantErr != "" {
				assert.EqualError(t, err, test.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, test.want, got)
		})
	}
}

func TestDelivery(t *testing.T) {
	spec := service.NewConfigSpec().Fields(service.NewOutputMaxInFlightField().Default(7), service.NewBatchPolicyField(FieldBatching))
	conf, err := spec.ParseYAML("batching: { count: 10 }", nil)
	require.NoError(t, err)
	policy, maxInFlight, err := Delivery(conf)
	require.NoError(t, err)
	assert.Equal(t, 10, policy.Count)
	assert.Equal(t, 7, maxInFlight)
}
