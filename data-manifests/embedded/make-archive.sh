#!/usr/bin/env bash
# Rebuilds smec-data.tar.gz from a data mirror, byte for byte reproducibly: names sorted, every
# mtime 0, owner and group 0, ustar format, gzip without name or timestamp. The archive holds
# the files of the datasets `make reproduce TABLE=2` needs, at their paths under a data root.
# Usage: make-archive.sh [MIRROR [OUT]]   (defaults: ../../../shared/data relative to this folder,
# and smec-data.tar.gz beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mirror="${1:-$here/../../../shared/data}"
out="${2:-$here/smec-data.tar.gz}"
files=(
  beir/scifact/corpus.jsonl beir/scifact/queries.jsonl beir/scifact/qrels/test.tsv beir/scifact/qrels/train.tsv
  classic/cranfield/cran.all.1400 classic/cranfield/cran.qry classic/cranfield/cranqrel classic/cranfield/cranqrel.readme
  classic/cacm/cacm.all classic/cacm/query.text classic/cacm/qrels.text
)
(cd "$mirror" && printf '%s\n' "${files[@]}" | LC_ALL=C sort |
  tar --create --format=ustar --no-recursion --mtime=@0 --owner=0 --group=0 --numeric-owner \
      --mode='a+r,u+w,go-w' --files-from=- ) | gzip -n -9 > "$out"
sha256sum "$out" | sed "s#  .*#  $(basename "$out")#"
