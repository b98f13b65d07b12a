// Package fakes3 runs an in-memory S3 (github.com/johannesboyne/gofakes3) on
// a loopback port for tests, and reads what was written with the AWS SDK's
// own S3 client. It is separate from package harness so that programs using
// the harness do not link an S3 server.
package fakes3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Credentials and region the fake accepts (it checks no signature) and
// Client signs with.
const (
	AccessKeyID     = "fakes3-access-key"
	SecretAccessKey = "fakes3-secret-key"
	Region          = "us-east-1"
)

// Server is a fake S3 endpoint on 127.0.0.1. Stop and Start take it down
// and bring it back on the same address with the same objects, as an outage
// of a real store does.
type Server struct {
	Addr     string // 127.0.0.1:PORT
	Endpoint string // http://127.0.0.1:PORT

	backend *s3mem.Backend

	mu  sync.Mutex
	srv *http.Server // nil while stopped
}

// Start starts a fake S3 with the given buckets on a free loopback port.
func Start(buckets ...string) (*Server, error) {
	s := &Server{backend: s3mem.New()}
	for _, b := range buckets {
		if err := s.backend.CreateBucket(b); err != nil {
			return nil, fmt.Errorf("creating bucket %s: %w", b, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the fake S3: %w", err)
	}
	s.Addr = ln.Addr().String()
	s.Endpoint = "http://" + s.Addr
	s.serve(ln)
	return s, nil
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: gofakes3.New(s.backend).Server(), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }() // ends with Close
}

// Stop closes the listener and every connection: clients get connection
// refused until Start. It is idempotent.
func (s *Server) Stop() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping the fake S3: %w", err)
	}
	return nil
}

// Restart listens again on the address of the first start, with the
// objects written so far.
func (s *Server) Restart() error {
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return fmt.Errorf("restarting the fake S3 on %s: it is running", s.Addr)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("restarting the fake S3 on %s: %w", s.Addr, err)
	}
	s.serve(ln)
	return nil
}

// Close stops the server. It is idempotent.
func (s *Server) Close() error { return s.Stop() }

// Client returns an S3 client of the AWS SDK for this server.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	})
}

// Object is one stored object.
type Object struct {
	Key         string
	Body        []byte
	ContentType string
	Metadata    map[string]string
}

// Objects reads every object of bucket with the SDK's client, in key order.
func (s *Server) Objects(ctx context.Context, bucket string) ([]Object, error) {
	client := s.Client()
	var objects []Object
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing bucket %s: %w", bucket, err)
		}
		for _, item := range page.Contents {
			obj, err := s.get(ctx, client, bucket, aws.ToString(item.Key))
			if err != nil {
				return nil, err
			}
			objects = append(objects, obj)
		}
	}
	return objects, nil
}

func (s *Server) get(ctx context.Context, client *s3.Client, bucket, key string) (Object, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Object{}, fmt.Errorf("getting s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return Object{}, fmt.Errorf("reading s3://%s/%s: %w", bucket, key, err)
	}
	return Object{Key: key, Body: body, ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata}, nil
}
