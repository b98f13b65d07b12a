#!/bin/sh
# Mutation check of the delivery promise: every mutant in scripts/mutants/main.go
# must make its tests fail (not -short: servers included; `make mutants` sets
# SALESFORCE_STREAMING_BIN). Runs on a temporary copy of the
# module; the working tree is never modified. Arguments go to the program
# (e.g. -only held).
set -eu
cd "$(dirname "$0")/.."
exec go run ./scripts/mutants "$@"
