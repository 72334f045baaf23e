#!/usr/bin/env python3
"""Writes the seed corpus of the dhcp_wire fuzz target (output committed):
   tests/fuzz/make_dhcp_seeds.py tests/fuzz/corpus/dhcp_wire
The packets mirror what docs/firmware.md records from real firmware."""
import os, struct, sys

MAC = bytes.fromhex("525400120001")

def pkt(opts, op=1, xid=0x6f6fc7e3, flags=0x8000, ciaddr=0, end=True, sname=b"", file=b""):
    h = struct.pack("!BBBBIHHIIII", op, 1, 6, 0, xid, 0, flags, ciaddr, 0, 0, 0)
    h += MAC + bytes(10) + sname.ljust(64, b"\0") + file.ljust(128, b"\0")
    h += bytes.fromhex("63825363")
    for code, val in opts:
        h += bytes([code, len(val)]) + val
    return h + (b"\xff" if end else b"")

def t(n): return (53, bytes([n]))
uuid = (97, bytes.fromhex("00b01a5e7a00000040800052540077 0101".replace(" ", "")))
seeds = {
    "ipxe_rom_discover": pkt([t(1), (57, b"\x05\xc0"), (93, b"\0\0"), (94, b"\x01\x02\x01"),
                              (60, b"PXEClient:Arch:00000:UNDI:002001"), (77, b"iPXE"),
                              (175, bytes.fromhex("b105018086100eeb030100001701012201")),
                              (61, b"\x01" + MAC), uuid, (55, bytes([1, 3, 6, 43, 60, 66, 67, 175]))]),
    "ovmf_pxe_discover": pkt([t(1), (57, b"\x05\xc0"), (93, b"\0\x07"), (94, b"\x01\x03\x00"),
                              (60, b"PXEClient:Arch:00007:UNDI:003000"), uuid,
                              (55, bytes([1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43,
                                          50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130]))]),
    "ovmf_http_discover": pkt([t(1), (57, b"\x05\xc0"), (93, b"\0\x10"), (94, b"\x01\x03\x00"),
                               (60, b"HTTPClient:Arch:00016:UNDI:003000"), uuid, (55, bytes([1, 3, 6, 60, 67, 235]))]),
    "udhcpc_request_selecting": pkt([t(3), (61, b"\x01" + MAC), (50, bytes([10, 12, 0, 11])),
                                     (54, bytes([10, 12, 0, 1])), (57, b"\x02\x40"), (60, b"pxelab-initramfs"),
                                     (55, bytes([1, 3, 6, 12, 15, 28, 42]))]),
    "renewing_request": pkt([t(3), (61, b"\x01" + MAC)], ciaddr=0x0a0c000b, flags=0),
    "release": pkt([t(7), (54, bytes([10, 12, 0, 1]))], ciaddr=0x0a0c000b, flags=0),
    "decline": pkt([t(4), (50, bytes([10, 12, 0, 11])), (54, bytes([10, 12, 0, 1]))]),
    "inform": pkt([t(8), (55, bytes([1, 3, 6]))], ciaddr=0x0a0c000b, flags=0),
    "overload_both": pkt([t(1), (52, b"\x03"), (60, b"PXEC")],
                         file=b"\x3c\x05lient\x43\x03pxe\xff", sname=b"\x42\x02ts"),
    "split_vendor_class": pkt([t(1), (60, b"PXEClient:"), (60, b"Arch:00000")]),
    "malformed_no_end": pkt([t(1), (60, b"PXEClient")], end=False),
    "malformed_bootreply": pkt([t(2)], op=2),
    "malformed_long_option": pkt([t(1)])[:-1] + b"\x3c\xc8PXE",
    "bootp_no_type": pkt([]),
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
