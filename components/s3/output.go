// Package s3 registers the `aws_s3` output: each message is uploaded as one
// object with github.com/aws/aws-sdk-go-v2/service/s3, and acknowledged once
// its PutObject succeeded.
//
// Its name, fields and defaults match Redpanda Connect's aws_s3 output for
// what it implements, so a pipeline moves between our binary and a Connect
// build unchanged.
package s3

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/salesforce-streaming/salesforce_streaming/components/internal/outputconf"
)

func init() {
	outputconf.RegisterBatchOutput("aws_s3", spec(), newOutput)
}

// output uploads each message of a batch as one object.
type output struct {
	bucket      string
	path        *service.InterpolatedString
	contentType *service.InterpolatedString
	metadata    *service.MetadataExcludeFilter // nil: all metadata
	timeout     time.Duration
	object      objectSettings
	client      clientSettings

	mu sync.Mutex
	s3 *s3.Client // nil until Connect
}

func newOutput(conf *service.ParsedConfig) (*output, error) {
	o := &output{}
	var err error
	if o.bucket, err = conf.FieldString(fieldBucket); err != nil {
		return nil, err
	}
	if o.bucket == "" {
		return nil, fmt.Errorf("field %s: a bucket is required", fieldBucket)
	}
	if o.path, err = conf.FieldInterpolatedString(fieldPath); err != nil {
		return nil, err
	}
	if o.contentType, err = conf.FieldInterpolatedString(fieldContentType); err != nil {
		return nil, err
	}
	if conf.Contains(fieldMetadata) {
		if o.metadata, err = conf.FieldMetadataExcludeFilter(fieldMetadata); err != nil {
			return nil, err
		}
	}
	if o.timeout, err = conf.FieldDuration(fieldTimeout); err != nil {
		return nil, err
	}
	if o.object, err = parseObjectSettings(conf); err != nil {
		return nil, err
	}
	if o.client, err = parseClientSettings(conf); err != nil {
		return nil, err
	}
	return o, nil
}

// Connect builds the S3 client. It sends no request: credentials and the
// bucket are checked by the first upload, whose failure is retried.
func (o *output) Connect(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.s3 != nil {
		return nil
	}
	client, err := o.client.newClient(ctx)
	if err != nil {
		return err
	}
	o.s3 = client
	return nil
}

// WriteBatch uploads each message as an object. Messages whose upload
// failed are reported by index, so that only they are retried.
func (o *output) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	o.mu.Lock()
	client := o.s3
	o.mu.Unlock()
	if client == nil {
		return service.ErrNotConnected
	}
	paths := batch.InterpolationExecutor(o.path)
	types := batch.InterpolationExecutor(o.contentType)
	var batchErr *service.BatchError
	for i, msg := range batch {
		if err := o.put(ctx, client, batch, msg, paths, types, i); err != nil {
			if len(batch) == 1 {
				return err
			}
			if batchErr == nil {
				batchErr = service.NewBatchError(batch, err)
			}
			batchErr = batchErr.Failed(i, err)
		}
	}
	if batchErr != nil {
		return batchErr
	}
	return nil
}

func (o *output) put(ctx context.Context, client *s3.Client, batch service.MessageBatch, msg *service.Message,
	paths, types *service.MessageBatchInterpolationExecutor, i int) error {
	key, err := paths.TryString(i)
	if err != nil {
		return fmt.Errorf("field %s: %w", fieldPath, err)
	}
	contentType, err := types.TryString(i)
	if err != nil {
		return fmt.Errorf("field %s: %w", fieldContentType, err)
	}
	body, err := msg.AsBytes()
	if err != nil {
		return fmt.Errorf("reading message %d: %w", i, err)
	}
	meta := map[string]string{}
	if o.metadata != nil {
		_ = o.metadata.Walk(msg, func(k, v string) error {
			meta[k] = v
			return nil
		})
	} else {
		_ = msg.MetaWalk(func(k, v string) error {
			meta[k] = v
			return nil
		})
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(o.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		Metadata:      meta,
	}
	if err := o.object.apply(in, batch, i); err != nil {
		return err
	}
	putCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	_, err = client.PutObject(putCtx, in)
	if err != nil {
		return fmt.Errorf("uploading s3://%s/%s: %w", o.bucket, key, err)
	}
	return nil
}

// Close releases the client. It is idempotent.
func (o *output) Close(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.s3 = nil
	return nil
}
