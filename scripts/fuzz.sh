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
  "FuzzParseHistogram ./internal/loadgen"
  "FuzzProc ./internal/loadgen"
  "FuzzParseRamp ./internal/loadgen"
)
status=0
for t in "${targets[@]}"; do
  read -r name pkg <<<"$t"
  for attempt in 1 2; do
    out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" 2>&1)
    rc=$?
    if [[ $rc -eq 0 ]]; then
      echo "fuzz: $name ($pkg) ok"
      break
    fi
    if grep -q "Failing input written to\|panic:" <<<"$out"; then
      echo "$out"
      echo "fuzz: $name ($pkg) FOUND A FAILING INPUT" >&2
      status=1
      break
    fi
    if grep -q "context deadline exceeded" <<<"$out" && [[ $attempt -eq 1 ]]; then
      echo "fuzz: $name ($pkg): fuzzing coordinator timed out, retrying once"
      continue
    fi
    if grep -q "context deadline exceeded" <<<"$out"; then
      echo "fuzz: $name ($pkg): WARNING: coordinator timed out twice with no failing input"
      break
    fi
    echo "$out"
    echo "fuzz: $name ($pkg) failed" >&2
    status=1
    break
  done
done
exit $status
