#!/usr/bin/env bash
# The revision skyspool reports (--version, created_by, skyspool_build_info) is read at every
# build by cmake/revision.cmake, not once when cmake configured: a rebuild after a commit or an
# edit must report the new one, and an unchanged tree must not rewrite the header (which would
# recompile its three files on every build). Run here on a scratch git repository.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
cd "$SS_TMP"
export GIT_CEILING_DIRECTORIES=$SS_TMP # the scratch repo, never a checkout around it
R="cmake -DSRC=$SS_TMP/repo -DOUT=$SS_TMP/rev.h -P $SKYSPOOL_SRC/cmake/revision.cmake"
build_of() { sed -n 's/^#define SKYSPOOL_BUILD "\(.*\)"$/\1/p' rev.h; }
rev_of() { sed -n 's/^#define SKYSPOOL_REVISION "\(.*\)"$/\1/p' rev.h; }

mkdir repo
$R
ss_eq "outside a git checkout: unknown" unknown "$(rev_of)"
ss_eq "outside a git checkout: build unknown" unknown "$(build_of)"

git -C repo init -q
git -C repo -c user.email=t@t -c user.name=t commit -q --allow-empty -m one
one=$(git -C repo rev-parse --short=7 HEAD)
$R
ss_eq "the build id is the commit" "$one" "$(build_of)"
ss_check "the revision is the commit, 12 digits" grep -q "REVISION \"$(git -C repo rev-parse --short=12 HEAD)\"" rev.h

touch -d '2020-01-01' rev.h
$R
ss_eq "an unchanged tree leaves the header alone" 2020 "$(date -r rev.h +%Y)"

echo x > repo/f && git -C repo add f && git -C repo -c user.email=t@t -c user.name=t commit -q -m two
two=$(git -C repo rev-parse --short=7 HEAD)
$R
ss_eq "after a commit, the new commit" "$two" "$(build_of)"
echo y > repo/f
$R
ss_check "an edited tree is -dirty" grep -q 'REVISION ".*-dirty"' rev.h

cmake -DSRC="$SS_TMP/repo" -DOUT="$SS_TMP/rev.h" -DFIXED=1.2.3-debian -P "$SKYSPOOL_SRC/cmake/revision.cmake"
ss_eq "a packager's fixed revision" 1.2.3-debian "$(rev_of)"

# the built binary reports what its header says
hdr=$(sed -n 's/^#define SKYSPOOL_BUILD "\(.*\)"$/\1/p' "$SKYSPOOL_BUILD/generated/ss_revision.h")
ss_check "skyspool --version reports the build's header ($hdr)" bash -c "'$SKYSPOOL_BIN' --version | grep -q '(build $hdr)'"
ss_done
