#!/usr/bin/env bash
# The module layering of src/ is the table in DEVELOPERS.md ("## Layout"): every #include of
# every file is checked against it (tests/lib/layering.py). Then the checker itself is shown
# to catch what it should (and every exported symbol is checked for the ss_ prefix): a parquet/ file that includes Bluesky's event model, a source that
# includes hiredis, a folder the table does not list.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
L="python3 $SKYSPOOL_SRC/tests/lib/layering.py"
set +e
$L "$SKYSPOOL_SRC" > "$SS_TMP/out" 2> "$SS_TMP/err"; rc=$?
set -e
cat "$SS_TMP/out"
ss_eq "src/ follows DEVELOPERS.md's layering table" 0 "$rc"
ss_check "the table lists the modules" grep -qE 'layering: [0-9]{2} modules, 0 violations' "$SS_TMP/err"

# every symbol the core library exports has the project's prefix (DEVELOPERS.md: ss_);
# symbols the toolchain generates (ASan's __odr_asan.* ODR indicators) are not ours
lib=$SKYSPOOL_BUILD/libsscore.a
if [ -f "$lib" ]; then
  bad=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 {print $3}' | grep -v '^ss_' | grep -v '^__odr_asan\.' | sort -u || true)
  ss_eq "every exported symbol of libsscore starts with ss_" "" "$(echo "$bad" | tr '\n' ' ' | sed 's/ *$//')"
  np=$(nm -g --defined-only "$SKYSPOOL_BUILD/libssparquet.a" 2>/dev/null | awk 'NF == 3 {print $3}' | grep -v '^ss_' | grep -v '^__odr_asan\.' | sort -u || true)
  ss_eq "every exported symbol of libssparquet starts with ss_" "" "$(echo "$np" | tr '\n' ' ' | sed 's/ *$//')"
else
  ss_fail "no $lib to check the exported symbols of"
fi

# one clock module and one hash module (DEVELOPERS.md's util row): no copy of a clock, a
# sleep or a mixer elsewhere (parquet/ is self-contained and has its own bloom-filter hash)
clk=$(grep -rnE '\b(clock_gettime|gettimeofday|nanosleep|usleep)[[:space:]]*\(' "$SKYSPOOL_SRC/src" --include='*.[ch]' |
  sed "s|^$SKYSPOOL_SRC/||" | grep -v '^src/util/clock\.c:' || true)
ss_eq "clocks and sleeps only in src/util/clock.c" "" "$clk"
mix=$(grep -rniE '0xbf58476d1ce4e5b9|0x94d049bb133111eb|1469598103934665603|0xcbf29ce484222325|0x87c37b91114253d5|0x4cf5ad432745937f' \
  "$SKYSPOOL_SRC/src" --include='*.[ch]' | sed "s|^$SKYSPOOL_SRC/||" | grep -v '^src/util/hash\.[ch]:' || true)
ss_eq "mixer and hash constants only in src/util/hash.[ch]" "" "$mix"

# the checker catches violations (a copy of the tree with three planted)
T=$SS_TMP/tree
mkdir -p "$T"
cp "$SKYSPOOL_SRC/DEVELOPERS.md" "$T/"
cp -r "$SKYSPOOL_SRC/src" "$T/src"
printf '#include "event/event.h"\n' >> "$T/src/parquet/options.c"
printf '#include <hiredis/hiredis.h>\n' >> "$T/src/source/registry.c"
mkdir -p "$T/src/newmod" && printf 'int x;\n' > "$T/src/newmod/a.c"
set +e
$L "$T" > "$SS_TMP/bad" 2>/dev/null; rc=$?
set -e
ss_eq "planted violations fail the check" 1 "$rc"
ss_check "parquet/ may not use event/" grep -q 'src/parquet/options.c:.*includes event/' "$SS_TMP/bad"
ss_check "sources may not use hiredis" grep -q 'src/source/registry.c:.*<hiredis/hiredis.h>' "$SS_TMP/bad"
ss_check "an unlisted module is named" grep -q 'src/newmod/: a module' "$SS_TMP/bad"
ss_done
