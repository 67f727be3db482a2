#!/usr/bin/env bash
# The libFuzzer dictionary of a fuzz target (fuzz/dict/), or nothing.
case $1 in
  proto_client|proto_route) echo fuzz/dict/proto.dict ;;
  client_info) echo fuzz/dict/json.dict ;;
  *) [ -f "fuzz/dict/$1.dict" ] && echo "fuzz/dict/$1.dict" ;;
esac
exit 0
