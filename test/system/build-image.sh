#!/usr/bin/env bash
# Builds the arm64 Debian guest for the system test (test/system/run.ts) from
# Debian packages only: mmdebstrap → rootfs → ext4 image, plus Debian's arm64
# kernel and an initrd taken out of that rootfs.
#   build-image.sh OUTDIR
# OUTDIR gets rootfs.img (raw ext4), vmlinuz, initrd.img. The caller caches
# OUTDIR by the hash of this file: change the recipe, and the image is rebuilt.
#
# Foreign-architecture maintainer scripts run under qemu-aarch64-static through
# binfmt_misc; if no aarch64 handler is registered, one is registered for the
# build and removed afterwards (the kernel's registry is shared by the host).
set -euo pipefail
out=${1:?usage: build-image.sh OUTDIR}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/cellkeep-vm-build.XXXXXX")
registered=""
mounted=""
cleanup() {
  [ -n "$registered" ] && echo -1 > /proc/sys/fs/binfmt_misc/cellkeep-aarch64 || true
  [ -n "$mounted" ] && umount /proc/sys/fs/binfmt_misc || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  mounted=1
fi
if ! grep -qs '^interpreter .*qemu-aarch64' /proc/sys/fs/binfmt_misc/* 2>/dev/null; then
  # The F flag opens the interpreter now, so it also works inside the chroot.
  echo ':cellkeep-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' > /proc/sys/fs/binfmt_misc/register
  registered=1
fi

root="$work/root"
# What the guest needs: systemd as init, udev (device nodes for ttyUSB0 and the
# GPIO chip), Debian's arm64 kernel and an initrd (virtio drivers are modules),
# apt to install the .deb as the README says, and the tools the checks use.
mmdebstrap --arch=arm64 --variant=minbase --mode=root \
  --include=systemd,systemd-sysv,udev,kmod,dbus,linux-image-arm64,initramfs-tools,iproute2,iputils-ping,curl,gpiod,procps,adduser,less \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
  --setup-hook='printf "MODULES=list\nCOMPRESS=gzip\n" > "$1/etc/initramfs-tools/conf.d/cellkeep-vm.conf"' \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools" && printf "virtio_pci\nvirtio_blk\nvirtio_mmio\next4\n" > "$1/etc/initramfs-tools/modules"' \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook='echo cellkeep-vm > "$1/etc/hostname"' \
  --customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" > "$1/etc/fstab"' \
  --customize-hook='mkdir -p "$1/etc/systemd/system/serial-getty@ttyAMA0.service.d" && printf "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200 %%I xterm\n" > "$1/etc/systemd/system/serial-getty@ttyAMA0.service.d/autologin.conf"' \
  --customize-hook='printf "[Journal]\nStorage=persistent\n" > "$1/etc/systemd/journald.conf.d/cellkeep-vm.conf" 2>/dev/null || { mkdir -p "$1/etc/systemd/journald.conf.d"; printf "[Journal]\nStorage=persistent\n" > "$1/etc/systemd/journald.conf.d/cellkeep-vm.conf"; }' \
  --customize-hook='chroot "$1" systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service man-db.timer fstrim.timer 2>/dev/null || true' \
  --customize-hook='mkdir -p "$1/host"' \
  --customize-hook='printf "host /host 9p trans=virtio,version=9p2000.L,nofail,x-systemd.device-timeout=5s 0 0\n" >> "$1/etc/fstab"' \
  `# Like Raspberry Pi OS: a gpio group owns the GPIO chips (plain Debian leaves them root-only),` \
  `# so the package's "join gpio where it exists" and the power-cycle command are exercised.` \
  --customize-hook='chroot "$1" groupadd --system gpio' \
  --customize-hook='printf "SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\"\n" > "$1/etc/udev/rules.d/60-gpio-group.rules"' \
  --customize-hook='chroot "$1" apt-get clean' \
  "$suite" "$root" "$mirror"

cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
# 2 GiB: the rootfs is ~400 MB; the .deb and journals need room.
rm -f "$out/rootfs.img"
mke2fs -q -t ext4 -L cellkeep-vm -d "$root" "$out/rootfs.img" 2G
echo "image: $(du -sh "$root" | cut -f1) rootfs in $out/rootfs.img"
