#!/bin/sh
# Builds the workload guest's initramfs from Debian packages (gcc + libc6-dev
# for a static binary, cpio) into $1 (default: ./out). The kernel is the
# distribution's (linux-image-amd64): /boot/vmlinuz-*.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/out"}
mkdir -p "$out/root"
gcc -O2 -static -o "$out/root/init" "$here/workload.c"
(cd "$out/root" && echo init | cpio --quiet -o -H newc) > "$out/initramfs.cpio"
echo "$out/initramfs.cpio"
