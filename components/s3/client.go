package s3

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/utils/netutil"
)

// fallbackRegion signs requests when neither the config nor the SDK's
// environment names a region: S3-compatible stores accept any, and AWS
// redirects a bucket's requests to its region's endpoint.
const fallbackRegion = "us-east-1"

// clientSettings are the fields that shape the S3 client.
type clientSettings struct {
	region    string
	endpoint  string
	pathStyle bool

	profile        string
	id             string
	secret         string
	token          string
	role           string
	roleExternalID string
	fromEC2Role    bool

	dialer *netutil.DialerConfig // nil: the SDK's own dialer
}

func parseClientSettings(conf *service.ParsedConfig) (clientSettings, error) {
	var c clientSettings
	var err error
	optional := func(dst *string, path ...string) {
		if err == nil && conf.Contains(path...) {
			*dst, err = conf.FieldString(path...)
		}
	}
	optional(&c.region, fieldRegion)
	if conf.Contains(fieldEndpoint) && err == nil {
		if c.endpoint, err = endpoint(conf); err != nil {
			return c, err
		}
	}
	optional(&c.profile, fieldCredentials, fieldProfile)
	optional(&c.id, fieldCredentials, fieldID)
	optional(&c.secret, fieldCredentials, fieldSecret)
	optional(&c.token, fieldCredentials, fieldToken)
	optional(&c.role, fieldCredentials, fieldRole)
	optional(&c.roleExternalID, fieldCredentials, fieldRoleExternalID)
	if err != nil {
		return c, err
	}
	if c.pathStyle, err = conf.FieldBool(fieldForcePathStyleURLs); err != nil {
		return c, err
	}
	if conf.Contains(fieldCredentials, fieldFromEC2Role) {
		if c.fromEC2Role, err = conf.FieldBool(fieldCredentials, fieldFromEC2Role); err != nil {
			return c, err
		}
	}
	if c.fromEC2Role && (c.id != "" || c.profile != "") {
		return c, fmt.Errorf("field %s.%s: give it alone, not with %s or %s", fieldCredentials, fieldFromEC2Role, fieldID, fieldProfile)
	}
	if conf.Contains(fieldTCP) {
		d, err := netutil.DialerConfigFromParsed(conf.Namespace(fieldTCP))
		if err != nil {
			return c, fmt.Errorf("field %s: %w", fieldTCP, err)
		}
		if err := d.Validate(); err != nil {
			return c, fmt.Errorf("field %s: %w", fieldTCP, err)
		}
		c.dialer = &d
	}
	if (c.id == "") != (c.secret == "") {
		return c, fmt.Errorf("field %s: %s and %s go together", fieldCredentials, fieldID, fieldSecret)
	}
	return c, nil
}

// endpoint reads the endpoint field; "" is unset, as Connect's documented
// config block writes it.
func endpoint(conf *service.ParsedConfig) (string, error) {
	// Read as text: Benthos' URL getter quotes the whole value in its parse
	// error, and an endpoint may carry credentials.
	text, err := conf.FieldString(fieldEndpoint)
	if err != nil || text == "" {
		return "", err
	}
	u, err := url.Parse(text)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("field %s: not an absolute URL such as http://127.0.0.1:9000", fieldEndpoint)
	}
	return u.String(), nil
}

// newClient loads the SDK's configuration (environment, shared files) with
// the fields' overrides and returns an S3 client.
func (c clientSettings) newClient(ctx context.Context) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if c.region != "" {
		opts = append(opts, config.WithRegion(c.region))
	}
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	if c.id != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token)))
	}
	if c.fromEC2Role {
		opts = append(opts, config.WithCredentialsProvider(aws.NewCredentialsCache(ec2rolecreds.New())))
	}
	if c.dialer != nil {
		d := *c.dialer
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithDialerOptions(func(nd *net.Dialer) {
			_ = netutil.DecorateDialer(nd, d) // validated when parsed
		})))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK names files and profiles here, never key material.
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = fallbackRegion
	}
	if c.role != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), c.role, func(o *stscreds.AssumeRoleOptions) {
			if c.roleExternalID != "" {
				o.ExternalID = aws.String(c.roleExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.endpoint != "" {
			o.BaseEndpoint = aws.String(c.endpoint)
		}
		o.UsePathStyle = c.pathStyle
	}), nil
}
