#!/usr/bin/env python3
"""Whole DHCP exchanges (DISCOVER, OFFER, REQUEST, ACK) for chosen client
MACs, from the client namespace: a machine nobody declared, or a flood of
them. One exchange at a time; the address is never configured.

usage: dhcp_dora.py IFACE FIRST_MAC [COUNT]
The MACs are FIRST_MAC, FIRST_MAC + 1, ... (COUNT of them, default 1).
Prints "acked N offered M of COUNT lease_time S" (S: the last ACK's lease
time, option 51); exits 0 when every exchange ended in an ACK."""
import socket, struct, sys, time

IFACE, FIRST = sys.argv[1], int(sys.argv[2].replace(":", "").replace("-", ""), 16)
COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 1

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, IFACE.encode())
s.bind(("", 68))


def packet(xid, mac, opts):
    h = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, xid, 0, 0x8000, 0, 0, 0, 0)
    h += mac.ljust(16, b"\0") + bytes(192) + b"\x63\x82\x53\x63"
    for code, val in opts:
        h += bytes([code, len(val)]) + val
    return h + b"\xff"


def answer(xid, want_type, timeout=1.0):
    """(yiaddr, server id) of the first answer of type want_type to xid."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            d = s.recv(2048)
        except socket.timeout:
            return None
        if len(d) < 240 or struct.unpack("!I", d[4:8])[0] != xid:
            continue
        i, opts = 240, {}
        while i + 1 < len(d) and d[i] != 255:
            if d[i] == 0:
                i += 1
                continue
            opts[d[i]] = d[i + 2:i + 2 + d[i + 1]]
            i += 2 + d[i + 1]
        if opts.get(53) == bytes([want_type]):
            return d[16:20], opts.get(54, b""), opts.get(51, b"\0\0\0\0")
    return None


acked = offered = lease_time = 0
for i in range(COUNT):
    mac, xid = (FIRST + i).to_bytes(6, "big"), 0x7000000 + i
    s.sendto(packet(xid, mac, [(53, b"\x01")]), ("255.255.255.255", 67))
    o = answer(xid, 2)
    if not o:
        continue
    offered += 1
    s.sendto(packet(xid, mac, [(53, b"\x03"), (50, o[0]), (54, o[1])]), ("255.255.255.255", 67))
    a = answer(xid, 5)
    if a:
        acked += 1
        lease_time = struct.unpack("!I", a[2])[0]
print(f"acked {acked} offered {offered} of {COUNT} lease_time {lease_time}")
sys.exit(0 if acked == COUNT else 1)
