#!/usr/bin/env bash
# setup.sh installs what the test suite needs on a fresh Debian machine:
# Erlang/OTP (the codec's reference and the Erlang peer), Chromium (the
# browser tests), PostgreSQL (the store of many nodes, which the tests
# start themselves), a C compiler (the race detector), the Go modules,
# and the npm packages of the browser tests and of the JS client's build
# (esbuild).
# It skips whatever is already there, so running it twice is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v erl >/dev/null 2>&1 || need+=(erlang-base)
[ -x /usr/bin/chromium ] || need+=(chromium)
# PostgreSQL: the tests start servers of their own (internal/pgtest), and
# the cluster bench compares with pgbench.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# The race detector builds with cgo.
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
fi

go mod download

for dir in tests/browser client; do
	if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund)
	fi
done
