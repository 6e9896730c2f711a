#!/usr/bin/env bash
# test.sh runs every test: unit tests, the Erlang interop and end-to-end
# tests and the browser tests. It installs what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go test -count=1 -timeout 10m ./...
