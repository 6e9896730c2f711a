#!/usr/bin/env bash
# vendor.sh copies the demo app's libraries (Backbone, Underscore, jQuery)
# from this folder's npm packages into gateway/web/vendor/, minified, each
# with a header naming the package, its version and its MIT license (the
# full license text travels beside it as <name>.LICENSE). Run it after
# changing their versions in package.json: `npm ci && bash vendor.sh`.
set -euo pipefail
cd "$(dirname "$0")"
out=../../gateway/web/vendor
mkdir -p "$out"

copy() { # copy NAME MINIFIED-FILE LICENSE-FILE
	local name=$1 src=node_modules/$1/$2 lic=node_modules/$1/$3
	local version
	version=$(node -p "require('./node_modules/$name/package.json').version")
	{
		printf '/*! %s %s | MIT License | copied from the npm package by tests/browser/vendor.sh; see %s.LICENSE */\n' "$name" "$version" "$name"
		cat "$src"
		printf '\n'
	} >"$out/$name.min.js"
	cp "$lic" "$out/$name.LICENSE"
}

copy underscore underscore-umd-min.js LICENSE
copy backbone backbone-min.js LICENSE
copy jquery dist/jquery.min.js LICENSE.txt
ls -l "$out"
