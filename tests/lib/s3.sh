# The local S3 for integration tests (sourced after tests/lib/harness.sh): s3rver behind the
# verifying, fault-injecting proxy tests/js/s3proxy.mjs, on a free loopback port, stopped by
# PID like every server the harness starts. Credentials are test-only values, given to the
# programs under test through the environment, as a user would.

S3_KEY=skyspooltestkey
S3_SECRET=skyspool-test-secret-0123456789
S3_BUCKET=archive

# s3_start: starts the proxy (and s3rver in it); sets S3_PORT, S3_ENDPOINT, S3_PID, S3_DIR.
s3_start() {
  S3_PORT=$(ss_free_port)
  S3_DIR=$SS_TMP/s3
  S3_ENDPOINT=http://127.0.0.1:$S3_PORT
  mkdir -p "$S3_DIR"
  rm -f "$S3_DIR.ready"
  node "$SKYSPOOL_SRC/tests/js/s3proxy.mjs" serve --port "$S3_PORT" --dir "$S3_DIR/data" --bucket "$S3_BUCKET" \
    --key "$S3_KEY" --secret "$S3_SECRET" --ready "$S3_DIR.ready" >"$S3_DIR.log" 2>&1 &
  S3_PID=$!
  SS_PIDS+=("$S3_PID")
  if ! ss_wait_for 30 test -s "$S3_DIR.ready"; then
    ss_fail "the local S3 did not start"; cat "$S3_DIR.log" >&2; exit 1
  fi
}

s3_stop() { kill "$S3_PID" 2>/dev/null || true; wait "$S3_PID" 2>/dev/null || true; }

# s3_env: the environment a program under test gets its credentials from.
s3_env() { export AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET; unset AWS_SESSION_TOKEN; }
# s3_settings STALL: S3SET, the --set flags that point skyspool at this S3 (path style, small
# parts so that a few MB make a multipart upload, and a stall timeout of STALL).
s3_settings() {
  S3SET=(--set "s3-endpoint=$S3_ENDPOINT" --set s3-path-style=yes --set s3-part-size=256kb --set "s3-stall-timeout=$1")
}

# s3_fault MODE [count=N] [skip=K] [match=RE] [secs=S]: arms a fault (see s3proxy.mjs).
s3_fault() {
  local mode=$1 q; shift
  q="mode=$mode"
  for a in "$@"; do q="$q&${a%%=*}=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "${a#*=}")"; done
  curl -sf -X POST "$S3_ENDPOINT/__fault?$q" >/dev/null
}
s3_fault_clear() { curl -sf -X DELETE "$S3_ENDPOINT/__fault" >/dev/null; }
# s3_stat FIELD: a count from the proxy (requests, verified, rejected, faults).
s3_stat() { curl -sf "$S3_ENDPOINT/__stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# s3_uploads: multipart uploads in progress.
s3_uploads() { curl -sf "$S3_ENDPOINT/__uploads" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# s3_list PREFIX: "key size sha256-metadata" per object, read through the proxy (signed).
s3_list() {
  node "$SKYSPOOL_SRC/tests/js/s3proxy.mjs" list --endpoint "$S3_ENDPOINT" --bucket "$S3_BUCKET" --prefix "$1" \
    --key "$S3_KEY" --secret "$S3_SECRET"
}
# s3_download PREFIX DIR: every object under PREFIX into DIR (keys relative to PREFIX).
s3_download() {
  rm -rf "$2"; mkdir -p "$2"
  node "$SKYSPOOL_SRC/tests/js/s3proxy.mjs" download --endpoint "$S3_ENDPOINT" --bucket "$S3_BUCKET" --prefix "$1" \
    --key "$S3_KEY" --secret "$S3_SECRET" --out "$2" >/dev/null
}
# s3_put KEY FILE / s3_delete KEY: damage an archive behind the writer's back (signed, through the proxy).
s3_put() {
  node "$SKYSPOOL_SRC/tests/js/s3proxy.mjs" put --endpoint "$S3_ENDPOINT" --bucket "$S3_BUCKET" \
    --key "$S3_KEY" --secret "$S3_SECRET" --key_name "$1" --file "$2"
}
s3_delete() {
  node "$SKYSPOOL_SRC/tests/js/s3proxy.mjs" delete --endpoint "$S3_ENDPOINT" --bucket "$S3_BUCKET" \
    --key "$S3_KEY" --secret "$S3_SECRET" --key_name "$1"
}
