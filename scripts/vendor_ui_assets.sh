#!/usr/bin/env bash
# Fetch the Vega, Vega-Lite and Vega-Embed builds the web pages use from the npm registry and copy
# their minified browser bundles into src/brevettiai/server/ui/static/vendor/ (the platform serves
# every asset itself: no page loads anything from the internet).
#
#   scripts/vendor_ui_assets.sh            # the versions pinned below
#   VEGA=6.4.0 VEGA_LITE=6.4.3 VEGA_EMBED=7.3.0 scripts/vendor_ui_assets.sh
set -euo pipefail

VEGA=${VEGA:-6.4.0}
VEGA_LITE=${VEGA_LITE:-6.4.3}
VEGA_EMBED=${VEGA_EMBED:-7.3.0}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/src/brevettiai/server/ui/static/vendor"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "vega@$VEGA" "vega-lite@$VEGA_LITE" "vega-embed@$VEGA_EMBED" >/dev/null
for package in vega vega-lite vega-embed; do
  mkdir -p "$package"
  tar -xzf "$package"-[0-9]*.tgz -C "$package"
done

mkdir -p "$DEST"
cp vega/package/build/vega.min.js "$DEST/vega.min.js"
cp vega-lite/package/build/vega-lite.min.js "$DEST/vega-lite.min.js"
cp vega-embed/package/build/vega-embed.min.js "$DEST/vega-embed.min.js"
for package in vega vega-lite vega-embed; do
  cp "$package/package/LICENSE" "$DEST/LICENSE-$package.txt"
done
(cd "$DEST" && sha256sum vega.min.js vega-lite.min.js vega-embed.min.js > SHA256SUMS)
echo "vega $VEGA, vega-lite $VEGA_LITE, vega-embed $VEGA_EMBED copied to $DEST"
