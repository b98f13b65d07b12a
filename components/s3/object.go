package s3

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// The fields that set attributes of each uploaded object, as Redpanda
// Connect names them.
const (
	fieldTags                    = "tags"
	fieldContentEncoding         = "content_encoding"
	fieldCacheControl            = "cache_control"
	fieldContentDisposition      = "content_disposition"
	fieldContentLanguage         = "content_language"
	fieldWebsiteRedirectLocation = "website_redirect_location"
	fieldStorageClass            = "storage_class"
	fieldKMSKeyID                = "kms_key_id"
	fieldServerSideEncryption    = "server_side_encryption"
	fieldChecksumAlgorithm       = "checksum_algorithm"
	fieldObjectCannedACL         = "object_canned_acl"
)

// Connect's storage classes, and its default.
var storageClasses = []string{"STANDARD", "REDUCED_REDUNDANCY", "GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE"}

const defaultStorageClass = "STANDARD"

// headerFields are the interpolated header-like fields, each with the
// PutObjectInput member it sets; an empty result sets nothing.
var headerFields = []struct {
	name string
	set  func(*s3.PutObjectInput, *string)
	desc string
}{
	{fieldContentEncoding, func(in *s3.PutObjectInput, v *string) { in.ContentEncoding = v }, "The Content-Encoding of each object, e.g. `gzip`."},
	{fieldCacheControl, func(in *s3.PutObjectInput, v *string) { in.CacheControl = v }, "The Cache-Control of each object."},
	{fieldContentDisposition, func(in *s3.PutObjectInput, v *string) { in.ContentDisposition = v }, "The Content-Disposition of each object."},
	{fieldContentLanguage, func(in *s3.PutObjectInput, v *string) { in.ContentLanguage = v }, "The Content-Language of each object."},
	{fieldWebsiteRedirectLocation, func(in *s3.PutObjectInput, v *string) { in.WebsiteRedirectLocation = v }, "Where a bucket configured as a website redirects requests for the object."},
}

// objectFields are the specs of the fields above.
func objectFields() []*service.ConfigField {
	acls := []string{""}
	for _, v := range types.ObjectCannedACL("").Values() {
		acls = append(acls, string(v))
	}
	checksums := []string{""}
	for _, v := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		checksums = append(checksums, string(v))
	}
	fields := []*service.ConfigField{
		service.NewInterpolatedStringMapField(fieldTags).
			Description("Object tags (interpolated values), e.g. for lifecycle rules.").
			Example(map[string]any{"channel": `${! @salesforce_channel }`}).
			Default(map[string]any{}),
	}
	for _, h := range headerFields {
		fields = append(fields, service.NewInterpolatedStringField(h.name).Description(h.desc).Default("").Advanced())
	}
	return append(fields,
		service.NewInterpolatedStringEnumField(fieldStorageClass, storageClasses...).
			Description("The storage class of each object.").
			Default(defaultStorageClass).
			Advanced(),
		service.NewStringField(fieldKMSKeyID).
			Description("A KMS key (id or ARN) to encrypt objects with; alone it implies `server_side_encryption: aws:kms`.").
			Default("").
			Advanced(),
		service.NewStringField(fieldServerSideEncryption).
			Description("The server-side encryption: `AES256`, `aws:kms` or `aws:kms:dsse`. Empty: the bucket's default.").
			Default("").
			Advanced(),
		service.NewStringEnumField(fieldChecksumAlgorithm, checksums...).
			Description("The checksum S3 verifies each upload with. Empty: the SDK's default (CRC32).").
			Default("").
			Advanced(),
		service.NewStringEnumField(fieldObjectCannedACL, acls...).
			Description("A canned ACL for each object. Empty: none (buckets made since 2023 refuse ACLs).").
			Default("").
			Advanced(),
	)
}

// objectSettings are the parsed object attribute fields.
type objectSettings struct {
	tags         map[string]*service.InterpolatedString
	tagKeys      []string                      // sorted, for a stable Tagging header
	headers      []*service.InterpolatedString // in headerFields' order
	storageClass *service.InterpolatedString
	kmsKeyID     string
	sse          string
	checksum     string
	acl          string
}

func parseObjectSettings(conf *service.ParsedConfig) (objectSettings, error) {
	var o objectSettings
	var err error
	if o.tags, err = conf.FieldInterpolatedStringMap(fieldTags); err != nil {
		return o, err
	}
	for k := range o.tags {
		o.tagKeys = append(o.tagKeys, k)
	}
	slices.Sort(o.tagKeys)
	for _, h := range headerFields {
		v, err := conf.FieldInterpolatedString(h.name)
		if err != nil {
			return o, err
		}
		o.headers = append(o.headers, v)
	}
	if o.storageClass, err = conf.FieldInterpolatedString(fieldStorageClass); err != nil {
		return o, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{fieldKMSKeyID, &o.kmsKeyID}, {fieldServerSideEncryption, &o.sse}, {fieldChecksumAlgorithm, &o.checksum}, {fieldObjectCannedACL, &o.acl}} {
		if *f.dst, err = conf.FieldString(f.name); err != nil {
			return o, err
		}
	}
	if o.sse != "" && !slices.Contains(types.ServerSideEncryption("").Values(), types.ServerSideEncryption(o.sse)) {
		return o, fmt.Errorf("field %s: %q is not one of %v", fieldServerSideEncryption, o.sse, types.ServerSideEncryption("").Values())
	}
	return o, nil
}

// apply sets message i's object attributes on in.
func (o objectSettings) apply(in *s3.PutObjectInput, batch service.MessageBatch, i int) error {
	if len(o.tagKeys) > 0 {
		pairs := make([]string, 0, len(o.tagKeys))
		for _, k := range o.tagKeys {
			v, err := batch.TryInterpolatedString(i, o.tags[k])
			if err != nil {
				return fmt.Errorf("field %s.%s: %w", fieldTags, k, err)
			}
			pairs = append(pairs, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		in.Tagging = aws.String(strings.Join(pairs, "&"))
	}
	for j, h := range headerFields {
		v, err := batch.TryInterpolatedString(i, o.headers[j])
		if err != nil {
			return fmt.Errorf("field %s: %w", h.name, err)
		}
		if v != "" {
			h.set(in, aws.String(v))
		}
	}
	class, err := batch.TryInterpolatedString(i, o.storageClass)
	if err != nil {
		return fmt.Errorf("field %s: %w", fieldStorageClass, err)
	}
	if !slices.Contains(storageClasses, class) {
		return fmt.Errorf("field %s: %q is not one of %s", fieldStorageClass, class, strings.Join(storageClasses, ", "))
	}
	in.StorageClass = types.StorageClass(class)
	if o.kmsKeyID != "" {
		in.SSEKMSKeyId = aws.String(o.kmsKeyID)
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
	}
	if o.sse != "" { // overrides what a KMS key implies, as in Connect
		in.ServerSideEncryption = types.ServerSideEncryption(o.sse)
	}
	if o.checksum != "" {
		in.ChecksumAlgorithm = types.ChecksumAlgorithm(o.checksum)
	}
	if o.acl != "" {
		in.ACL = types.ObjectCannedACL(o.acl)
	}
	return nil
}
