#!/usr/bin/env bash
# Runs every fuzz target of a parser of outside input for a short time.
# A real finding (a failing input written to testdata/fuzz) fails the run.
# Go's fuzzing coordinator sometimes reports "context deadline exceeded"
# when the time runs out while a worker is still minimising on a loaded
# machine; that says nothing about the code under test, so it is retried
# once and then reported as a warning.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
targets=(
  "FuzzReadWAV ./media"
  "FuzzParseASRTSV ./evals"
  "FuzzNormalize ./verify/phone"
  "FuzzParseYAML ./verify/accounts"
  "FuzzParseJSON ./verify/accounts"
  "FuzzParse ./verify/policy"
  "FuzzParseArticle ./handoff/kb"
  "FuzzClassify ./nlu"
  "FuzzSlots ./nlu/slots"
  "FuzzTelephoneEvent ./media/webrtc"
  "FuzzParseOffer ./media/webrtc"
  "FuzzDepacketize ./media/webrtc"
  "FuzzOutbound ./media/webrtc"
  "FuzzDecode ./media/opus"
  "FuzzDecode ./media/g722"
  "FuzzDecodeVariety ./classifier"
  "FuzzReadDialectTSV ./evals"
  "FuzzSayParse ./internal/zhnum"
  "FuzzReplace ./internal/zhnum"
  "FuzzParseSDPOffer ./media/sip"
  "FuzzNumberOf ./media/sip"
  "FuzzInfoKey ./media/sip"
  "FuzzSIPDatagram ./media/sip"
  "FuzzRedact ./internal/redact"
  "FuzzParseSipfrag ./media/sip"
  "FuzzSessionExpires ./media/sip"
  "FuzzParsePeoplesDaily ./nlu/relevance"
  "FuzzUnmarshalBackground ./nlu/relevance"
  "FuzzGrounded ./handoff"
  "FuzzQuietCuts ./asr/openai"
  "FuzzParseHistogram ./internal/loadgen"
  "FuzzProc ./internal/loadgen"
  "FuzzParseRamp ./internal/loadgen"
)
# Two targets at a time, each with one fuzzing worker: a target's time is
# mostly building and starting its package, which one core does as well as
# two, and the suite is part of every CI run.
jobs="${FUZZJOBS:-2}"
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT

fuzz_one() {
  local i=$1 name=$2 pkg=$3 out rc
  for attempt in 1 2; do
    out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -parallel=1 "$pkg" 2>&1)
    rc=$?
    # A renamed or removed target fuzzes nothing and exits 0.
    if grep -q "no fuzz tests to fuzz" <<<"$out"; then
      rc=1
    fi
    if [[ $rc -eq 0 ]]; then
      echo "fuzz: $name ($pkg) ok" >"$out_dir/$i.out"
      return 0
    fi
    if grep -q "Failing input written to\|panic:" <<<"$out"; then
      printf '%s\nfuzz: %s (%s) FOUND A FAILING INPUT\n' "$out" "$name" "$pkg" >"$out_dir/$i.out"
      touch "$out_dir/$i.fail"
      return 1
    fi
    if grep -q "context deadline exceeded" <<<"$out" && [[ $attempt -eq 1 ]]; then
      echo "fuzz: $name ($pkg): fuzzing coordinator timed out, retrying once" >>"$out_dir/$i.log"
      continue
    fi
    if grep -q "context deadline exceeded" <<<"$out"; then
      echo "fuzz: $name ($pkg): WARNING: coordinator timed out twice with no failing input" >"$out_dir/$i.out"
      return 0
    fi
    printf '%s\nfuzz: %s (%s) failed\n' "$out" "$name" "$pkg" >"$out_dir/$i.out"
    touch "$out_dir/$i.fail"
    return 1
  done
}

# A target's result is in its files (a job that ends between two looks
# at the job table is never waited for by number).
i=0
for t in "${targets[@]}"; do
  read -r name pkg <<<"$t"
  while (( $(jobs -rp | wc -l) >= jobs )); do
    wait -n
  done
  fuzz_one "$i" "$name" "$pkg" &
  i=$((i + 1))
done
wait
status=0
for ((j = 0; j < i; j++)); do
  cat "$out_dir/$j.log" 2>/dev/null
  if ! cat "$out_dir/$j.out" 2>/dev/null; then
    echo "fuzz: target $j left no result" >&2
    status=1
  fi
  [[ -e "$out_dir/$j.fail" ]] && status=1
done
exit $status
