#!/usr/bin/env python3
"""Crafted DHCP packets against a running bmagent, from the client namespace.

usage: dhcp_probe.py IFACE SERVER_IP SUITE   (SUITE: authoritative | nopool | proxy)

Prints TAP-like "ok - ..." / "not ok - ..." lines; exits 1 if any failed.
The fleet is deploy/examples/fleet.yaml, rack12: r12n03 (52:54:00:12:00:03,
10.12.0.13) is marked for netboot, r12n01 (.11) is not."""
import socket, struct, sys, time

IFACE, SERVER, SUITE = sys.argv[1], sys.argv[2], sys.argv[3]
NETBOOT_MAC = bytes.fromhex("525400120003")
PLAIN_MAC = bytes.fromhex("525400120001")
fails = 0
xid_counter = 0x5000


def ok(cond, what):
    global fails
    print(("ok - " if cond else "not ok - ") + what)
    fails += 0 if cond else 1


def packet(mac, opts, op=1, htype=1, hlen=6, cookie=b"\x63\x82\x53\x63", end=True, flags=0x8000,
           ciaddr=0):
    global xid_counter
    xid_counter += 1
    h = struct.pack("!BBBBIHHIIII", op, htype, hlen, 0, xid_counter, 0, flags, ciaddr, 0, 0, 0)
    h += mac.ljust(16, b"\0") + bytes(192) + cookie
    for code, val in opts:
        h += bytes([code, len(val)]) + val
    return xid_counter, h + (b"\xff" if end else b"")


def parse(data):
    if len(data) < 240:
        return None
    r = {"op": data[0], "xid": struct.unpack("!I", data[4:8])[0],
         "yiaddr": socket.inet_ntoa(data[16:20]), "siaddr": socket.inet_ntoa(data[20:24]),
         "file": data[108:236].split(b"\0")[0].decode(errors="replace"), "opts": {}}
    i = 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, ln = data[i], data[i + 1]
        r["opts"][code] = r["opts"].get(code, b"") + data[i + 2:i + 2 + ln]
        i += 2 + ln
    return r


def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, IFACE.encode())
    s.bind(("", port))
    s.settimeout(0.1)
    return s


S68 = sock(68)


def exchange(pkt_xid, to=("255.255.255.255", 67), s=S68, wait=1.0):
    xid, data = pkt_xid
    s.sendto(data, to)
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            got, _ = s.recvfrom(4096)
        except socket.timeout:
            continue
        r = parse(got)
        if r and r["xid"] == xid and r["op"] == 2:
            return r
    return None


def discover(mac, *extra, **kw):
    return packet(mac, [(53, b"\x01")] + list(extra), **kw)


def arch(n):
    return (93, struct.pack("!H", n))


def vc(s):
    return (60, s.encode())


def pxe_branches():
    cases = [
        ("BIOS PXE (arch 0)", [arch(0), vc("PXEClient:Arch:00000:UNDI:002001")], "undionly.kpxe", True),
        ("UEFI ia32 (arch 6)", [arch(6), vc("PXEClient:Arch:00006:UNDI:003000")], "i386/ipxe.efi", True),
        ("UEFI x64 (arch 7)", [arch(7), vc("PXEClient:Arch:00007:UNDI:003000")], "ipxe.efi", True),
        ("UEFI BC (arch 9)", [arch(9), vc("PXEClient:Arch:00009:UNDI:003000")], "ipxe.efi", True),
        ("UEFI ARM64 (arch 11)", [arch(11), vc("PXEClient:Arch:00011:UNDI:003000")], "arm64/ipxe.efi", True),
    ]
    for name, opts, want, tftp in cases:
        r = exchange(discover(NETBOOT_MAC, *opts))
        ok(r is not None and r["opts"].get(53) == b"\x02", name + ": OFFER")
        if not r:
            continue
        ok(r["file"] == want and r["opts"].get(67, b"").decode() == want, f"{name}: boot file {want}")
        ok(r["siaddr"] == SERVER and r["opts"].get(66, b"").decode() == SERVER, f"{name}: next-server {SERVER}")
        ok(43 in r["opts"] and 60 not in r["opts"], f"{name}: option 43, no 60 echo to firmware")
        ok(r["yiaddr"] == "10.12.0.13", f"{name}: its reservation")
    uuid = (97, bytes.fromhex("00b01a5e7a00000040800052540077 0101".replace(" ", "")))
    r = exchange(discover(NETBOOT_MAC, arch(16), vc("HTTPClient:Arch:00016:UNDI:003000"), uuid))
    url = f"http://{SERVER}:8080/boot/ipxe.efi"
    ok(r is not None and r["opts"].get(67, b"").decode() == url, "UEFI HTTP boot (arch 16): URL of the EFI iPXE")
    ok(r is not None and r["opts"].get(60) == b"HTTPClient", "UEFI HTTP boot: option 60 HTTPClient echoed")
    ok(r is not None and r["opts"].get(97) == uuid[1], "option 97 echoed")
    script = f"http://{SERVER}:8080/boot/52:54:00:12:00:03.ipxe"
    r = exchange(discover(NETBOOT_MAC, arch(0), vc("PXEClient:Arch:00000:UNDI:002001"), (77, b"iPXE")))
    ok(r is not None and r["opts"].get(67, b"").decode() == script, "iPXE (user class 77): its own script")
    ok(r is not None and r["opts"].get(60) == b"PXEClient", "iPXE: option 60 PXEClient echoed")
    r = exchange(discover(NETBOOT_MAC, arch(7), vc("PXEClient:Arch:00007:UNDI:003010"),
                          (175, bytes.fromhex("b105011af41000eb03010000"))))
    ok(r is not None and r["opts"].get(67, b"").decode() == script, "iPXE (option 175): its own script")
    r = exchange(discover(PLAIN_MAC, arch(7), vc("PXEClient:Arch:00007:UNDI:003000")))
    ok(r is not None and r["yiaddr"] == "10.12.0.11" and 67 not in r["opts"] and not r["file"],
       "not marked for netboot: its address, no boot file")


def unknown_with_pool():
    r = exchange(discover(bytes.fromhex("525400990077")))
    ok(r is not None and r["yiaddr"].startswith("10.12.0.2"), "unknown MAC with a pool: an OFFER from the pool")


def malformed():
    valid = lambda: discover(NETBOOT_MAC, arch(0), vc("PXEClient:Arch:00000:UNDI:002001"))
    bad = {
        "truncated header": discover(NETBOOT_MAC)[1][:200],
        "wrong magic cookie": discover(NETBOOT_MAC, cookie=b"\x63\x82\x53\x64")[1],
        "option length past the end": discover(NETBOOT_MAC)[1][:-1] + b"\x3c\xc8PXE",
        "missing end option": discover(NETBOOT_MAC, end=False)[1],
        "hlen 17": discover(NETBOOT_MAC, hlen=17)[1],
        "BOOTREPLY op code": discover(NETBOOT_MAC, op=2)[1],
        "giant packet (9000 bytes)": discover(NETBOOT_MAC)[1] + bytes(9000),
        "no message type (BOOTP)": packet(NETBOOT_MAC, [])[1],
    }
    for name, data in bad.items():
        S68.sendto(data, ("255.255.255.255", 67))
        r = exchange(valid())
        ok(r is not None and r["opts"].get(53) == b"\x02", f"malformed ({name}) dropped, next request answered")


def proxy():
    s4011 = sock(4011)
    r = exchange(discover(NETBOOT_MAC, arch(7), vc("PXEClient:Arch:00007:UNDI:003000")))
    ok(r is not None and r["yiaddr"] == "0.0.0.0", "proxyDHCP on 67: an OFFER without an address")
    ok(r is not None and r["opts"].get(60) == b"PXEClient" and 43 in r["opts"], "proxyDHCP: 60 PXEClient with 43")
    ok(r is not None and r["file"] == "ipxe.efi", "proxyDHCP: the boot file")
    ok(exchange(discover(NETBOOT_MAC), wait=0.5) is None, "proxyDHCP: a non-PXE client gets nothing")
    req = packet(NETBOOT_MAC, [(53, b"\x03"), arch(7), vc("PXEClient:Arch:00007:UNDI:003000")], flags=0,
                 ciaddr=struct.unpack("!I", socket.inet_aton("10.12.0.99"))[0])
    r = exchange(req, to=(SERVER, 4011), s=s4011)
    ok(r is not None and r["opts"].get(53) == b"\x05" and r["file"] == "ipxe.efi",
       "proxyDHCP on 4011: REQUEST gets an ACK with the boot file, unicast back")


def nopool():
    for _ in range(3):  # one log line for all three (checked by the caller)
        ok(exchange(discover(bytes.fromhex("525400990078")), wait=0.3) is None, "unknown MAC without a pool: no answer")
    r = exchange(discover(PLAIN_MAC))
    ok(r is not None and r["yiaddr"] == "10.12.0.11", "a known machine is still answered")


if SUITE == "authoritative":
    pxe_branches()
    unknown_with_pool()
    malformed()
elif SUITE == "nopool":
    nopool()
elif SUITE == "proxy":
    proxy()
sys.exit(1 if fails else 0)
