#!/usr/bin/env bash
# Full disks and a read-only file system (issue 17): the data directory on a small tmpfs this test
# mounts; filled while requests are made (clear JSON 503s, nothing half-written, recovery without
# a restart once space returns, grants that ended meanwhile revoked), then remounted read-only
# (test/crash/README.md). Exit 77 when not root or the mount is refused (an unprivileged container).
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
source "$(dirname "$0")/../integration/lib.sh"
FS=$WORK/fs
mkdir -m 700 "$FS"
mount -t tmpfs -o size=16m,mode=0700 bg-crash-tmpfs "$FS" 2>"$WORK/mount.err" ||
  { echo "SKIP: mount -t tmpfs refused: $(cat "$WORK/mount.err")"; exit 77; }
# The driver's server dies with the driver; the file system goes before the work directory.
trap 'umount "$FS" 2>/dev/null || umount -l "$FS" || true; cleanup' EXIT
python3 "$(dirname "$0")/crash_driver.py" disk --bg "$BG" --work "$WORK" --fs "$FS" \
  ${CRASH_SEED:+--seed "$CRASH_SEED"} || fail "disk full test"
