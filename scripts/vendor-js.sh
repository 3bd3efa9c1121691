#!/usr/bin/env bash
# Refresh the vendored dashboard assets from the npm registry (npm pack; no CDN at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=onefunnel/web/static/onefunnel/vendor
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fetch() {  # package@version, file inside the package, destination name
  (cd "$work" && npm pack "$1" --silent >/dev/null)
  local tgz; tgz=$(ls "$work"/*.tgz); mkdir -p "$work/x"; tar xzf "$tgz" -C "$work/x"
  cp "$work/x/package/$2" "$dest/$3"
  [ -f "$work/x/package/LICENSE" ] && cp "$work/x/package/LICENSE" "$dest/LICENSE.${1%@*}"
  rm -rf "$work/x" "$tgz"
}
fetch vega@5.33.1 build/vega.min.js vega.min.js
fetch vega-lite@5.23.0 build/vega-lite.min.js vega-lite.min.js
fetch vega-embed@6.29.0 build/vega-embed.min.js vega-embed.min.js
fetch htmx.org@2.0.11 dist/htmx.min.js htmx.min.js
echo "vendored into $dest"
