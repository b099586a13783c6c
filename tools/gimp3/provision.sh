#!/bin/bash
# Provisions GIMP 3 for the plug-in tests (tests/test_gimp_plugin.py). Idempotent; each step prints its time.
#   - gimp-console-3.0 already on PATH: nothing to do.
#   - the system's apt candidate for `gimp` is 3.x (Debian 13+): apt-get install gimp.
#   - else (Debian 12 has only 2.10): a Debian 13 chroot at $GIMP3_CHROOT (default /opt/trixie) built with
#     debootstrap from Debian's own packages, with GIMP 3 installed inside it.
# Root only (apt, debootstrap, chroot). Measured on a 2-core machine: about 3 minutes the first time (debootstrap
# 60-80 s, GIMP 40-95 s, 726 MB), under a second after. Prints the way GIMP is run on its last line:
# "system" or "chroot DIR".
set -euo pipefail
ROOT=${GIMP3_CHROOT:-/opt/trixie}
export DEBIAN_FRONTEND=noninteractive
LOCK=(-o DPkg::Lock::Timeout=900)   # other apt users on the machine: wait for them, do not fail
t() { local s; s=$(date +%s); "$@"; echo "[gimp3 provision] $(( $(date +%s) - s ))s: $*" >&2; }
major() { apt-cache policy gimp 2>/dev/null | awk '/Candidate:/ {print $2}' | sed 's/^[0-9]*://' | cut -d. -f1; }

if command -v gimp-console-3.0 >/dev/null; then echo "system"; exit 0; fi
if [ -x "$ROOT/usr/bin/gimp-console-3.0" ]; then echo "chroot $ROOT"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "provisioning GIMP 3 needs root (apt-get, debootstrap, chroot)" >&2; exit 2; fi
[ -n "$(major)" ] || t apt-get update -qq
if [ "$(major)" = "3" ]; then
  t apt-get "${LOCK[@]}" install -y -qq --no-install-recommends gimp >&2
  echo "system"; exit 0
fi
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || t apt-get "${LOCK[@]}" install -y -qq debootstrap >&2
  rm -rf "$ROOT.partial"   # a half-made chroot from an interrupted run; nothing is ever mounted in it
  t debootstrap --variant=minbase trixie "$ROOT.partial" http://deb.debian.org/debian > /tmp/gimp3-debootstrap.log
  mv "$ROOT.partial" "$ROOT"
fi
# /proc only inside a private mount namespace, so nothing stays mounted in the chroot afterwards.
t unshare -m sh -c "mount -t proc proc '$ROOT/proc' && chroot '$ROOT' apt-get update -qq" >&2
# gimp pulls python3-gi and gir1.2-gimp-3.0 (GObject introspection for Python plug-ins) itself.
t unshare -m sh -c "mount -t proc proc '$ROOT/proc' && chroot '$ROOT' env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends gimp" > /tmp/gimp3-apt.log
chroot "$ROOT" apt-get clean
chroot "$ROOT" gimp-console-3.0 --version >&2
echo "chroot $ROOT"
