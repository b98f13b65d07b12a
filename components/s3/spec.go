package s3

import (
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/utils/netutil"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

const (
	fieldBucket             = "bucket"
	fieldPath               = "path"
	fieldContentType        = "content_type"
	fieldMetadata           = "metadata"
	fieldRegion             = "region"
	fieldEndpoint           = "endpoint"
	fieldForcePathStyleURLs = "force_path_style_urls"
	fieldTimeout            = "timeout"
	fieldTCP                = "tcp"

	fieldCredentials    = "credentials"
	fieldProfile        = "profile"
	fieldID             = "id"
	fieldSecret         = "secret"
	fieldToken          = "token"
	fieldRole           = "role"
	fieldRoleExternalID = "role_external_id"
	fieldFromEC2Role    = "from_ec2_role"
)

// Defaults as Redpanda Connect documents them.
const (
	defaultPath        = `${!counter()}-${!timestamp_unix_nano()}.txt`
	defaultContentType = "application/octet-stream"
	defaultTimeout     = "5s"
)

func spec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Uploads messages to an Amazon S3 bucket (or an S3-compatible store) as objects, at the path of the `path` field.").
		Description("Each message becomes one object, written with one `PutObject` request; a message is "+
			"acknowledged once its request succeeded, and a failed one is retried on its own. To write a whole "+
			"batch into one object, archive the batch in the batching policy's processors (e.g. "+
			"`archive: {format: lines}`), which turns it into one message.\n\n"+
			"Credentials come from the `credentials` fields when set, else from the AWS SDK's default chain "+
			"(environment, shared config and credentials files, web identity, container and instance roles).").
		Fields(
			service.NewStringField(fieldBucket).
				Description("The bucket to upload to."),
		).
		Fields(objectFields()...).
		Fields(
			service.NewInterpolatedStringField(fieldPath).
				Description("The object key of each message.").
				Example(`${!counter()}-${!timestamp_unix_nano()}.json`).
				Example(`${!@salesforce_channel.trim_prefix("/")}/${!@salesforce_replay_id}.json`).
				Default(defaultPath),
			service.NewInterpolatedStringField(fieldContentType).
				Description("The content type of each object.").
				Default(defaultContentType),
			service.NewMetadataExcludeFilterField(fieldMetadata).
				Description("Which message metadata to send as user-defined object metadata (`x-amz-meta-*`): all of it, "+
					"except keys with one of the listed prefixes.").
				Optional(),
			service.NewOutputMaxInFlightField(),
			service.NewDurationField(fieldTimeout).
				Description("The longest one upload may take before it fails and is retried.").
				Default(defaultTimeout).
				Advanced(),
			service.NewBatchPolicyField(outputconf.FieldBatching),
			service.NewStringField(fieldRegion).
				Description("The AWS region of the bucket. Empty means the SDK's (`AWS_REGION`, the shared config), and "+
					"`us-east-1` when that has none either.").
				Optional().
				Advanced(),
			netutil.DialerConfigSpec(),
			service.NewURLField(fieldEndpoint).
				Description("A custom endpoint, for S3-compatible stores such as MinIO.").
				Example("http://127.0.0.1:9000").
				Optional().
				Advanced(),
			service.NewBoolField(fieldForcePathStyleURLs).
				Description("Address buckets as `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`, "+
					"as most S3-compatible stores need.").
				Default(false).
				Advanced(),
			service.NewObjectField(fieldCredentials,
				service.NewStringField(fieldProfile).
					Description("A profile of the shared credentials and config files.").
					Optional(),
				service.NewStringField(fieldID).
					Description("An access key id; with `secret`, static credentials.").
					Optional(),
				service.NewStringField(fieldSecret).
					Description("The secret access key of `id`.").
					Optional().
					Secret(),
				service.NewStringField(fieldToken).
					Description("A session token, for temporary static credentials.").
					Optional().
					Secret(),
				service.NewStringField(fieldRole).
					Description("The ARN of a role to assume, with the credentials above (or the default chain).").
					Optional(),
				service.NewStringField(fieldRoleExternalID).
					Description("The external id the role's trust policy asks for.").
					Optional(),
				service.NewBoolField(fieldFromEC2Role).
					Description("Sign with the role of the EC2 instance the pipeline runs on (its instance profile), "+
						"rather than the rest of the SDK's default chain.").
					Optional(),
			).
				Description("Credentials, when the SDK's default chain is not what should sign requests.").
				Optional().
				Advanced(),
		)
}
