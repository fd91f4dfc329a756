#!/usr/bin/env bash
# JSON parsing: skyspool's strict scanner + Jetstream decoder against json-c, measured in the
# same run on the same corpus (parse + extract the envelope fields). Writes bench/results/json.md.
#   bench/json_choice.sh              (run by bench/run-all)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SKYSPOOL_BUILD:-$PWD/build}
SHARED=${SKYSPOOL_SHARED:-$PWD/../shared}
cmake --build "$BUILD" --target json_choice -j2 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
corpus=$tmp/corpus.jsonl
if [ -x "${SKYSPOOL_BIN:-}" ] && "$SKYSPOOL_BIN" synth --help >/dev/null 2>&1; then
  gen="skyspool synth --events 200000 --seed 1"
  "$SKYSPOOL_BIN" synth --events 200000 --seed 1 >"$corpus"
else
  gen="json_choice --make-corpus \$SKYSPOOL_SHARED/samples 200000 1 (shared samples in the live type mix, identifiers varied)"
  "$BUILD/json_choice" --make-corpus "$SHARED/samples" 200000 1 >"$corpus"
fi
out=$(nice "$BUILD/json_choice" "$corpus" --runs 7)
mkdir -p bench/results
{
  echo "## JSON parsing (skyspool vs json-c)"
  echo
  echo "Command: \`bench/json_choice.sh\` = \`$gen > corpus.jsonl; json_choice corpus.jsonl --runs 7\`"
  echo "(release build, \`nice\`). Each parser decodes every event and extracts the envelope fields"
  echo "(did, time_us, kind, the commit/identity/account fields and the record); json-c is configured as"
  echo "strict as skyspool needs (\`JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8\`), and its default"
  echo "mode is shown for context. Events per CPU-second of this process."
  echo
  echo "$out"
} >bench/results/json.md
cat bench/results/json.md
