#!/usr/bin/env bash
# `make install` (cmake --install with DESTDIR and a prefix) installs the binary, a man page
# per command, the systemd units (run daemon, ingest, the write --once service and its
# timer, the OnFailure= reporter), sysusers/tmpfiles entries and an example config; the
# installed units pass `systemd-analyze verify`, pass no flag that would override the config
# file, and keep the archive group-readable.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
D="$SS_TMP/dest"
DESTDIR="$D" cmake --install "$SKYSPOOL_BUILD" --prefix /usr/local > "$SS_TMP/install.log" 2>&1 ||
  { cat "$SS_TMP/install.log" >&2; ss_fail "cmake --install failed"; }
(cd "$D" && find . -type f | sort) > "$SS_TMP/files"
P=./usr/local
for f in bin/skyspool share/man/man1/skyspool.1 share/man/man1/skyspool-write.1 share/man/man1/skyspool-run.1 \
  lib/systemd/system/skyspool.service lib/systemd/system/skyspool-ingest.service \
  lib/systemd/system/skyspool-writer.service lib/systemd/system/skyspool-writer.timer \
  lib/systemd/system/skyspool-failure@.service lib/sysusers.d/skyspool.conf lib/tmpfiles.d/skyspool.conf \
  etc/skyspool/skyspool.conf share/doc/skyspool/skyspool.conf.example; do
  ss_check "installed: $f" grep -qxF "$P/$f" "$SS_TMP/files"
done
# one man page per command that `skyspool --help` lists, plus skyspool(1)
ncmd=$("$SKYSPOOL_BIN" --help | awk '/^commands:/{f=1;next} f&&/^$/{exit} f&&/^  [a-z]/{n++} END{print n}')
ss_eq "a man page per command" "$((ncmd + 1))" "$(grep -c '/man1/skyspool.*\.1$' "$SS_TMP/files")"
ss_check "man pages carry the --help text" grep -q -- '--once' "$D/usr/local/share/man/man1/skyspool-write.1"
ss_eq "the example config is 0640 (it may hold a secret)" 640 "$(stat -c %a "$D/usr/local/etc/skyspool/skyspool.conf")"
# the example config holds only settings skyspool knows (an unknown key is a usage error, 2)
set +e
SKYSPOOL_DATA_DIR="$SS_TMP/dd" "$SKYSPOOL_BIN" runs --config "$D/usr/local/etc/skyspool/skyspool.conf" > /dev/null 2> "$SS_TMP/conf.err"
rc=$?
set -e
ss_eq "the example config parses (runs: no ledger yet, 1)" 1 "$rc"
ss_check "  and complains only that no writer ran there" grep -qE "no ledger|no skyspool data dir" "$SS_TMP/conf.err"
# a second install keeps a config the operator edited
echo "# edited" >> "$D/usr/local/etc/skyspool/skyspool.conf"
DESTDIR="$D" cmake --install "$SKYSPOOL_BUILD" --prefix /usr/local > "$SS_TMP/install2.log" 2>&1
ss_check "a reinstall keeps the edited config" grep -q '^# edited' "$D/usr/local/etc/skyspool/skyspool.conf"

U="$D/usr/local/lib/systemd/system"
for u in skyspool.service skyspool-ingest.service skyspool-writer.service; do
  ss_check "$u reports failures (OnFailure=)" grep -q '^OnFailure=skyspool-failure@%n.service' "$U/$u"
  ss_check "$u reads the installed config" grep -q '^Environment=SKYSPOOL_CONFIG=/usr/local/etc/skyspool/skyspool.conf' "$U/$u"
  ss_eq "$u passes no flag that overrides the config" "" \
    "$(grep '^ExecStart=' "$U/$u" | grep -oE -- '--(out|data-dir|redis|prefix|set|maxmemory|source)([= ]|$)' || true)"
  ss_check "$u keeps the archive group-readable" grep -q '^UMask=0027' "$U/$u"
  ss_eq "$u: no 0700 state dir around the archive" "" "$(grep '^StateDirectoryMode=07[0-7][0-7]$' "$U/$u" | grep -v 0750 || true)"
done
ss_check "the timer starts the writer service" grep -q '^Unit=skyspool-writer.service' "$U/skyspool-writer.timer"
ss_check "the ingest service takes its source from the config" grep -q '^ExecStart=/usr/local/bin/skyspool ingest$' "$U/skyspool-ingest.service"
ss_check "the example config names the source" grep -q '^source jetstream$' "$D/usr/local/etc/skyspool/skyspool.conf"
# `source` from a config file is what `ingest` reads without --source (a flag still wins)
ss_start_redis r
"$SKYSPOOL_BIN" synth --events 50 --seed 3 > "$SS_TMP/ev.jsonl"
printf 'source file:%s\nredis-url %s\n' "$SS_TMP/ev.jsonl" "$REDIS_URL_r" > "$SS_TMP/src.conf"
"$SKYSPOOL_BIN" ingest --config "$SS_TMP/src.conf" --json --no-progress --log-level error > "$SS_TMP/ing.json" \
  || ss_fail "ingest with source from the config file"
ss_check "ingest read the config's source" grep -qF "\"source\":\"file:$SS_TMP/ev.jsonl" "$SS_TMP/ing.json"
set +e
"$SKYSPOOL_BIN" ingest --redis "$REDIS_URL_r" --log-level error 2> "$SS_TMP/nosrc.err"
rc=$?
set -e
ss_eq "ingest without --source or a source setting: usage error" 2 "$rc"
ss_check "  and the message names the setting" grep -q 'source. in the config file' "$SS_TMP/nosrc.err"
ss_check "the writer service runs one pass" grep -q '^ExecStart=/usr/local/bin/skyspool write --once$' "$U/skyspool-writer.service"
ss_check "the tmpfiles entry makes the archive 0750 for the group" \
  grep -qE '^d /var/lib/skyspool/archive +0750 skyspool skyspool' "$D/usr/local/lib/tmpfiles.d/skyspool.conf"
ss_check "the sysusers entry creates the user" grep -q '^u skyspool ' "$D/usr/local/lib/sysusers.d/skyspool.conf"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  ss_fail "systemd-analyze is missing (scripts/install-deps installs systemd)"
else
  # verify the installed units where they are: their paths pointed into DESTDIR
  mkdir -p "$SS_TMP/units"
  for f in "$U"/*; do sed "s|/usr/local/|$D/usr/local/|g" "$f" > "$SS_TMP/units/$(basename "$f")"; done
  set +e
  (cd "$SS_TMP/units" && MANPATH="$D/usr/local/share/man" systemd-analyze verify ./*.service ./*.timer) > "$SS_TMP/verify.log" 2>&1
  rc=$?
  set -e
  ss_eq "systemd-analyze verify exit status" 0 "$rc"
  ss_eq "systemd-analyze verify: no complaints" "" "$(cat "$SS_TMP/verify.log")"
fi
# A packager's build without the tests (BUILD_TESTING=OFF: no cmocka, no libcbor) installs
# the same: its configure stops at the tests section, so the install rules come before it.
# Configured only (no compile): the generated install script must hold every rule.
if cmake -S "$SKYSPOOL_SRC" -B "$SS_TMP/pkg" -DBUILD_TESTING=OFF > "$SS_TMP/pkg.log" 2>&1; then
  for f in skyspool.service skyspool-ingest.service skyspool-writer.service skyspool-writer.timer \
           skyspool-failure@.service sysusers.d tmpfiles.d skyspool.conf.example man1 bin/skyspool; do
    ss_check "BUILD_TESTING=OFF still installs $f" grep -rq -- "$f" "$SS_TMP/pkg/cmake_install.cmake"
  done
else
  cat "$SS_TMP/pkg.log" >&2; ss_fail "cmake -DBUILD_TESTING=OFF failed to configure"
fi
ss_done
