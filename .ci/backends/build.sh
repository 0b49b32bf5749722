#!/usr/bin/env bash
# Build the real OpenTelemetry Collector (custom distribution, see otelcol/manifest.yaml) and
# Jaeger v2 from the Go module proxy, caching the binaries outside the repo. A binary is rebuilt
# only when the files that define it change. Prints nothing but progress; exits non-zero on failure.
# Usage: .ci/backends/build.sh [otelcol|jaeger]...   (default: both)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${GENAI_OTEL_CACHE:-$HOME/.cache/genai-otel}"
bin="$cache/bin"
mkdir -p "$bin" "$cache/gobin"
# Some module versions are served by the proxy without a checksum-database entry; the
# committed go.sum files pin the hashes instead.
export GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local

key_of() { cat "$@" | sha256sum | cut -c1-16; }

build_jaeger() {
  local key; key="$(key_of "$here/jaeger/go.mod" "$here/jaeger/go.sum")"
  if [[ -x "$bin/jaeger-$key" ]]; then ln -sf "jaeger-$key" "$bin/jaeger"; return; fi
  echo "building jaeger ($key)..." >&2
  (cd "$here/jaeger" && go build -trimpath -ldflags='-s -w' -o "$bin/jaeger-$key.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$bin/jaeger-$key.tmp" "$bin/jaeger-$key" && ln -sf "jaeger-$key" "$bin/jaeger"
}

build_otelcol() {
  local key version; key="$(key_of "$here/otelcol/manifest.yaml")"
  if [[ -x "$bin/otelcol-genai-$key" ]]; then ln -sf "otelcol-genai-$key" "$bin/otelcol-genai"; return; fi
  version="$(sed -n 's/^  version: *//p' "$here/otelcol/manifest.yaml")"
  echo "building otelcol-genai $version ($key)..." >&2
  GOBIN="$cache/gobin" go install "go.opentelemetry.io/collector/cmd/builder@v$version"
  local work="$cache/otelcol-build"
  rm -rf "$work" && mkdir -p "$work"
  sed "s#output_path: .*#output_path: $work#" "$here/otelcol/manifest.yaml" > "$work.yaml"
  "$cache/gobin/builder" --config "$work.yaml" --ldflags='-s -w' >&2
  mv "$work/otelcol-genai" "$bin/otelcol-genai-$key" && ln -sf "otelcol-genai-$key" "$bin/otelcol-genai"
}

targets=("$@"); [[ ${#targets[@]} -eq 0 ]] && targets=(otelcol jaeger)
for t in "${targets[@]}"; do "build_$t"; done
