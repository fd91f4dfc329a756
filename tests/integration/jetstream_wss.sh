#!/usr/bin/env bash
# jetstream: over wss:// with a self-signed certificate made here with the openssl CLI:
# trusted through --tls-ca-file the stream is identical to the input; --tls-insecure also
# works; without either the certificate is refused and nothing is delivered. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

IN="$SS_TMP/in.jsonl"
net_gen 10000 1000 "$IN"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$SS_TMP/key.pem" -out "$SS_TMP/cert.pem" 2>/dev/null
net_replay tls --jsonl "$IN" --tls-cert "$SS_TMP/cert.pem" --tls-key "$SS_TMP/key.pem"
URL="wss://127.0.0.1:$RP_PORT_tls/subscribe"
net_expect "$IN" app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block \
  > "$SS_TMP/exp"
n=$(wc -l < "$SS_TMP/exp")

timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --tls-ca-file "$SS_TMP/cert.pem" --limit "$n" \
  > "$SS_TMP/out1" 2> "$SS_TMP/cat1.log"
ss_check "wss:// with --tls-ca-file: identical to the input ($n events)" cmp -s "$SS_TMP/exp" "$SS_TMP/out1"
ss_check "connected over wss://" grep -q "connected to wss://127.0.0.1:$RP_PORT_tls/subscribe" "$SS_TMP/cat1.log"

timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --tls-insecure --limit "$n" > "$SS_TMP/out2" 2>/dev/null
ss_check "wss:// with --tls-insecure: identical" cmp -s "$SS_TMP/exp" "$SS_TMP/out2"

# Untrusted certificate: the client keeps retrying, never accepts a byte.
set +e
timeout 4 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --limit 1 > "$SS_TMP/out3" 2> "$SS_TMP/cat3.log"
set -e
ss_eq "self-signed certificate without trust: nothing delivered" 0 "$(wc -l < "$SS_TMP/out3")"
ss_check "the failure is reported and retried" grep -q "cannot connect.*reconnecting in" "$SS_TMP/cat3.log"

# A plain ws:// client against the TLS port fails the same way.
set +e
timeout 3 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_tls/subscribe" --limit 1 > "$SS_TMP/out4" 2>/dev/null
set -e
ss_eq "ws:// against a wss:// server: nothing delivered" 0 "$(wc -l < "$SS_TMP/out4")"

ss_done
