#!/usr/bin/env bash
# Installs what dseek needs to build and test, and nothing that is already there.
# Debian packages by name (apt-get), npm packages pinned by tools/oracle/package-lock.json.
# Idempotent: a second run does no work. Needs root for apt-get (sudo is used if present).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake make pkg-config python3 git
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libpcre2-dev libcli11-dev
  clang libclang-rt-14-dev
  libcpp-httplib-dev libboost-dev chromium
  openmpi-bin libopenmpi-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm oracles (reference tokenizer, Jinja, OpenAI client): reinstall only when the lockfile changed.
stamp=tools/oracle/node_modules/.dseek-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s tools/oracle/package-lock.json "$stamp"; then
  echo "install-deps: npm ci (tools/oracle)"
  (cd tools/oracle && npm ci --no-audit --no-fund --loglevel=error)
  cp tools/oracle/package-lock.json "$stamp"
fi
