#!/usr/bin/env bash
# Drives cos-local with coscmd, unchanged, the way it would reach COS through an HTTP proxy.
#
# Run by tests/sdk_clients.rs as: coscmd.sh <coscmd> <port> <config file> <work dir>.
# coscmd builds https://<bucket>.cos.<region>.myqcloud.com URLs; with `schema = http` in its
# config file and HTTP_PROXY pointing at cos-local, requests sends each request to cos-local
# with an absolute-form target (GET http://<bucket>.cos.<region>.myqcloud.com/<key>), which
# cos-local serves directly. Every step checks the bytes that come back.
set -euo pipefail

coscmd=$1
port=$2
conf=$3
work=$4

export HTTP_PROXY="http://127.0.0.1:${port}" http_proxy="http://127.0.0.1:${port}"
unset NO_PROXY no_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy

run() { "$coscmd" -c "$conf" "$@"; }
# check NAME COMMAND...: runs the command, prints "ok NAME" or fails the script.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok $name"
  else
    echo "$name failed" >&2
    exit 1
  fi
}

cd "$work"
printf 'hello from coscmd\n%.0s' {1..10} > small.txt
head -c $((21 * 1024 * 1024 + 4321)) /dev/urandom > big.bin

run upload small.txt "cmd/small file.txt" > /dev/null
run download -f "cmd/small file.txt" small.down > /dev/null
check "upload and download small" cmp -s small.txt small.down

# Over the multipart threshold: parts of part_size MB (4 in the config), several threads.
run upload big.bin cmd/big.bin > /dev/null
run download -f cmd/big.bin big.down > /dev/null
check "multipart upload and ranged download" cmp -s big.bin big.down

info=$(run info cmd/big.bin)
check "info shows the multipart etag" grep -q -- "-6" <<< "$info"

listing=$(run list cmd/)
check "list shows the big file" grep -q "cmd/big.bin" <<< "$listing"
check "list shows the small file" grep -q "cmd/small file.txt" <<< "$listing"

run delete -f "cmd/small file.txt" > /dev/null
listing=$(run list cmd/)
check "delete" test "$(grep -c "small file" <<< "$listing")" = 0

md5sum big.bin | cut -d' ' -f1
