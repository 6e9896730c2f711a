#!/usr/bin/env bash
# test.sh runs every test: unit tests (Go and the JS client's), the
# Erlang interop and end-to-end tests and the browser tests, after go vet,
# gofmt, the purego build of the codec, the cross-OS builds and the check
# that the committed JS bundles are fresh. It installs what they need
# first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
# The codec's unsafe boxing has a safe fallback; both must pass.
go test -count=1 -tags purego ./bert/...
# cmd/bertsync builds for every OS, not only this one, and for 32-bit
# targets; the bench's non-unix fallbacks compile with their tests.
for target in windows/amd64 darwin/arm64 freebsd/amd64 linux/386; do
	GOOS=${target%/*} GOARCH=${target#*/} go build ./...
done
GOOS=windows go vet ./internal/bench ./cmd/bertsync
# The served JS client is built from client/src: the committed bundles
# must be what the sources build, and the modules have unit tests.
(cd client && npm run --silent check)
node --test client/test/
go test -count=1 -timeout 10m ./...
# The same packages' tests again under the data race detector, but the
# end-to-end suite (tests/: mostly other processes and a browser) and
# gateway's TestCluster. That one runs several protoactor remotes in one
# process, and protoactor's Remote.Start sets gRPC's global logger
# without a lock each time, which the detector reports against the gRPC
# goroutines of the remotes started before (the library's race; a
# server runs one remote).
go test -race -count=1 -timeout 10m -skip '^TestCluster$' \
	./actors ./auth ./bert/... ./cmd/... ./examples/... ./gateway ./internal/... ./models
# Every benchmark runs once, briefly, so that none of them rots
# (docs/bench.md has the commands that measure).
go test -count=1 -run '^$' -bench . -benchtime 1x ./...
# The fan-out comparison with centrifuge is a module of its own (the
# main module never depends on the peer); its short mode fails on a lost
# message or a failed run, and prints the ratios.
(cd bench && go vet ./... && go run . -short)
