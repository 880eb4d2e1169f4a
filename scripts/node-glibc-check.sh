#!/usr/bin/env bash
# Checks that Node.js addons load on AWS Lambda's Node.js runtimes (Amazon Linux 2023, glibc
# 2.34): no dynamic symbol of FILE may need a glibc newer than 2.34 (`objdump -T`).
#
#   scripts/node-glibc-check.sh FILE.node...
set -euo pipefail
limit=2.34
status=0
for file in "$@"; do
  versions=$(objdump -T "$file" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV)
  newest=$(printf '%s\n' "$versions" | tail -1)
  if [ -z "$newest" ]; then
    echo "node-glibc-check: $file has no versioned glibc symbols (is it a glibc build?)" >&2
    status=1
  elif [ "$(printf '%s\n%s\n' "$newest" "$limit" | sort -V | tail -1)" != "$limit" ]; then
    echo "node-glibc-check: $file needs GLIBC_$newest, newer than $limit:" >&2
    objdump -T "$file" | grep "GLIBC_$newest" >&2
    status=1
  else
    echo "$file: newest glibc symbol version GLIBC_$newest (limit $limit), $(stat -c %s "$file") bytes"
  fi
done
exit $status
