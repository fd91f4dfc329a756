#!/usr/bin/env bash
# deploy/systemd: the writer's service + timer pair and the `skyspool run` daemon unit pass
# `systemd-analyze verify` (with ExecStart pointed at the binary under test).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skip: systemd-analyze is not installed; units not verified"
  ss_done; exit 0
fi
mkdir -p "$SS_TMP/units"
for f in "$SKYSPOOL_SRC"/deploy/systemd/*; do
  sed "s|/usr/local/bin/skyspool|$SKYSPOOL_BIN|g" "$f" > "$SS_TMP/units/$(basename "$f")"
done
for u in skyspool-writer.service skyspool-writer.timer skyspool.service; do
  ss_check "$u exists" test -f "$SS_TMP/units/$u"
done
(cd "$SS_TMP/units" && systemd-analyze verify ./*.service ./*.timer) > "$SS_TMP/verify.log" 2>&1
rc=$?
ss_eq "systemd-analyze verify exit status" 0 "$rc"
ss_eq "systemd-analyze verify: no complaints" "" "$(cat "$SS_TMP/verify.log")"
ss_check "the timer starts the writer service" grep -q '^Unit=skyspool-writer.service' "$SS_TMP/units/skyspool-writer.timer"
ss_check "the writer service runs one pass" grep -q 'write --once' "$SS_TMP/units/skyspool-writer.service"
ss_done
