#!/usr/bin/env python3
"""Crafted TFTP requests against bmagent, from the client namespace.

usage: tftp_probe.py SERVER_IP            refusals, then a valid request
       tftp_probe.py SERVER_IP abandon    start a transfer and go away
Prints "ok - ..." / "not ok - ..." lines."""
import socket, struct, sys

SERVER = sys.argv[1]
fails = 0


def ok(cond, what):
    global fails
    print(("ok - " if cond else "not ok - ") + what)
    fails += 0 if cond else 1


def ask(pkt, wait=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.sendto(pkt, (SERVER, 69))
    try:
        data, frm = s.recvfrom(70000)
    except socket.timeout:
        data, frm = None, None
    return s, data, frm


def error_code(data):
    if data and len(data) >= 4 and struct.unpack("!H", data[:2])[0] == 5:
        return struct.unpack("!H", data[2:4])[0]
    return None


def rrq(name, mode=b"octet", *opts):
    return b"\0\1" + name + b"\0" + mode + b"\0" + b"".join(o + b"\0" for o in opts)


if len(sys.argv) > 2 and sys.argv[2] == "abandon":
    s, data, frm = ask(rrq(b"1M"))
    ok(data is not None and data[:4] == b"\0\3\0\1", "abandon: first block received, the client leaves")
    sys.exit(0)

cases = [
    ("write request", b"\0\2upload.bin\0octet\0", {2}),
    ("mode 'mail'", rrq(b"f513", b"mail"), {4}),
    ("NUL inside the name field", b"\0\1f513\0../../secret\0octet\0", {1, 2, 4}),
    ("truncated request", b"\0\1f513", {0, 4}),
    ("dot-dot in a deep path", rrq(b"sub/../../../secret"), {2}),
    ("absolute path: from the root, where there is none", rrq(b"/etc/passwd"), {1}),
    ("absolute path leaving the root", rrq(b"//../secret"), {2}),
]
for what, pkt, codes in cases:
    s, data, frm = ask(pkt)
    ok(error_code(data) in codes, f"{what}: refused with an error ({error_code(data)})")
    s.close()

# The OACK grants what was asked, with the file's size as tsize.
s, data, frm = ask(rrq(b"f513", b"octet", b"blksize", b"1468", b"tsize", b"0", b"windowsize", b"16"))
ok(data == b"\0\6blksize\0" b"1468\0tsize\0" b"513\0windowsize\0" b"16\0",
   f"OACK grants blksize 1468, tsize 513, windowsize 16 ({data!r})")
s.sendto(b"\0\4\0\0", frm)  # ACK 0 confirms the options
data, _ = s.recvfrom(70000)
ok(data[:4] == b"\0\3\0\1" and len(data) == 4 + 513, "after ACK 0: the whole file in one 1468-byte block")
s.sendto(b"\0\4\0\1", frm)
s.close()

# Unknown options are ignored; out-of-range values too: plain transfer.
s, data, frm = ask(rrq(b"f513", b"octet", b"colour", b"blue", b"blksize", b"99999"))
ok(data is not None and data[:4] == b"\0\3\0\1" and len(data) == 4 + 512,
   "unknown option and out-of-range blksize ignored: 512-byte DATA 1")
# ...and the transfer goes on from its own port.
s.sendto(b"\0\4\0\1", frm)
data2, _ = s.recvfrom(70000)
ok(data2[:4] == b"\0\3\0\2" and len(data2) == 5, "DATA 2 (1 byte) after ACK 1, from the transfer's port")
ok(frm[1] != 69, "each transfer has its own port")
s.sendto(b"\0\4\0\2", frm)
sys.exit(1 if fails else 0)
