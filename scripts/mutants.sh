#!/bin/sh
# Mutation check of the delivery promise: every mutant in scripts/mutants/main.go
# must make the short tests of its package fail. Runs on a temporary copy of the
# module; the working tree is never modified. Arguments go to the program
# (e.g. -only held).
set -eu
cd "$(dirname "$0")/.."
exec go run ./scripts/mutants "$@"
