#!/usr/bin/env bash
# A disk stall injected under load: how much larger does it come out at the client?
# Needs root (a loop-mounted ext4 image, frozen with fsfreeze for STALL_MS in the middle of a
# 10,000 orders/s run of load_bench.py, whose raw-disk probe runs on the same mount).
# Usage: sudo bench/disk_stall.sh [STALL_MS=165] [PYTHON=.venv-run/bin/python]
# Prints load_bench's lines: the worst 100 ms windows next to the slowest probe fdatasync.
set -euo pipefail
cd "$(dirname "$0")"
stall_ms=${1:-165}
py=${2:-../.venv-run/bin/python}
python="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")"  # (a venv's python: no realpath)
img=$(mktemp /var/tmp/disk-stall-XXXXXX.img)
mnt=$(mktemp -d /tmp/disk-stall-mnt-XXXXXX)
cleanup() {
    fsfreeze -u "$mnt" 2>/dev/null || true
    umount "$mnt" 2>/dev/null || true
    rmdir "$mnt" 2>/dev/null || true
    rm -f "$img"
}
trap cleanup EXIT
truncate -s 2G "$img"
mkfs.ext4 -q -F "$img"
mount -o loop "$img" "$mnt"
(
    sleep 6  # the engine starts and the funding is done by then; the run is at 10,000/s
    fsfreeze -f "$mnt"
    sleep "$(awk "BEGIN { print $stall_ms / 1000 }")"
    fsfreeze -u "$mnt"
) &
TMPDIR=$mnt "$python" load_bench.py --rates 10000 --seconds 10 --max-seconds 0
wait
