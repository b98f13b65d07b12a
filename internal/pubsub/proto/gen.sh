#!/bin/sh
# Regenerates pubsub_api.pb.go and pubsub_api_grpc.pb.go from pubsub_api.proto with pinned plugin versions,
# here or into the directory given as the first argument (the up-to-date test uses one).
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and the Go toolchain.
set -eu
cd "$(dirname "$0")"
out=${1:-.}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	pubsub_api.proto
