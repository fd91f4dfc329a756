# Writes OUT (ss_revision.h) with the commit the tree is at: SKYSPOOL_BUILD, the short commit in
# --version and in every Parquet file's created_by, and SKYSPOOL_REVISION (git describe, with
# -dirty for local edits) in skyspool_build_info{revision}.
# Run at every build, not at configure time: a rebuild after a commit or an edit reports the
# new revision, where a value taken once by cmake would stay the first one. OUT is rewritten
# only when the revision changed, so an unchanged tree recompiles nothing.
#   cmake -DSRC=<source dir> -DOUT=<header> [-DFIXED=<revision>] -P revision.cmake
# FIXED (the SKYSPOOL_REVISION cache variable) is for packagers building from a tarball.
if(FIXED)
  set(rev "${FIXED}")
  set(build "${FIXED}")
else()
  execute_process(COMMAND git rev-parse --short=7 HEAD WORKING_DIRECTORY "${SRC}"
                  OUTPUT_VARIABLE build OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT build MATCHES "^[0-9a-f]+$")
    set(build "unknown")
  endif()
  execute_process(COMMAND git describe --always --dirty --abbrev=12 WORKING_DIRECTORY "${SRC}"
                  OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT rev)
    set(rev "unknown")
  endif()
endif()
set(text "/* Generated at build time by cmake/revision.cmake: do not edit. */\n#define SKYSPOOL_BUILD \"${build}\"\n#define SKYSPOOL_REVISION \"${rev}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
