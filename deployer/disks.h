/* The disks the kernel lists, read from sysfs (SYSROOT/block: /sys/block on
 * a machine, a folder in tests): name, size, removable, read-only, serial
 * and a by-path name made as udev's path_id makes it for the buses
 * machines boot from (virtio-blk "pci-0000:00:05.0", NVMe
 * "pci-0000:01:00.0-nvme-1", SCSI "pci-0000:00:04.0-scsi-0:0:0:0", libata
 * "pci-0000:00:1f.2-ata-1"). Loop, RAM, zram, device-mapper and md devices
 * and disks of size 0 are not candidates and are left out; the order is
 * by name, as the kernel's enumeration is not stable. */
#pragma once
#include <stddef.h>

#include "disk_choice.h"

#define DISKS_MAX 64u

/* Fill out (up to max) and return how many, or -errno (no SYSROOT/block). */
int disks_scan(const char *sysroot, struct disk *out, size_t max);

/* Secure Boot as the firmware says it (the SecureBoot EFI variable, in
 * SYSROOT/firmware/efi/efivars, efivarfs mounted): 1 on, 0 off, -ENOENT
 * (not booted by UEFI, or no efivarfs), -EINVAL (not the variable's shape). */
int efi_secure_boot(const char *sysroot);
