// Package eventbusv1 is the Go code generated from pubsub_api.proto, Salesforce's Pub/Sub API contract
// (package eventbus.v1). Do not edit the .pb.go files: change the .proto and run `go generate` here (gen.sh),
// which needs protoc (Debian: protobuf-compiler) and installs the two plugins at pinned versions. The build and
// the tests need only the committed generated code.
package eventbusv1

//go:generate sh gen.sh
