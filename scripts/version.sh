#!/bin/sh
# Prints the version bin/benthos reports: `git describe` of the newest v0.x.y
# tag (v0.3.1, or v0.3.1-4-gabc1234 four commits later), else v0.0.0-<commit>,
# with -dirty when the tree has uncommitted changes; v0.0.0-unknown outside a
# git checkout. The Makefile and so the Dockerfile's build stage use it.
set -eu
cd "$(dirname "$0")/.."
d="$(git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || true)"
case "$d" in
v[0-9]*) echo "$d" ;;
"") echo "v0.0.0-unknown" ;;
*) echo "v0.0.0-$d" ;;
esac
