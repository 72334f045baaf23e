#!/usr/bin/env python3
"""One host trying to take a rack agent's slots, from the client namespace.

usage: flood_probe.py http-idle SERVER PORT SOURCE COUNT
         COUNT idle connections from SOURCE; prints "held N closed M"
         (held: still open after a second; closed: closed by the server)
         and keeps the held ones open until stdin closes.
       flood_probe.py slowloris SERVER PORT SOURCE
         a request head sent one byte a second; prints "closed after N
         bytes status S" (S: the status the server answered, 0: none)
       flood_probe.py tftp SERVER SOURCE COUNT FILE
         COUNT read requests with timeout 255 from SOURCE, never ACKed;
         prints "oack N busy M other K timeout_granted G" and keeps the
         sockets open until stdin closes (a closed one would end its
         transfer at the server's next retransmission: port unreachable)."""
import resource, select, selectors, socket, struct, sys, time

resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
MODE = sys.argv[1]


def http_idle(server, port, source, count):
    conns = []
    for _ in range(count):
        s = socket.socket()
        s.bind((source, 0))
        s.setblocking(False)
        s.connect_ex((server, port))
        conns.append(s)
    # Count until the server has settled (no change for a second; under a
    # loaded CI box accepting 1,000 connections takes a while).
    closed, last, still, end = set(), -1, 0, time.monotonic() + 30
    while still < 2 and time.monotonic() < end:
        time.sleep(0.5)
        for s in conns:
            if s in closed:
                continue
            try:
                if s.recv(1) == b"":
                    closed.add(s)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(s)
        still = still + 1 if len(closed) == last else 0
        last = len(closed)
    held, closed = count - len(closed), len(closed)
    print(f"held {held} closed {closed}", flush=True)
    sys.stdin.read()


def slowloris(server, port, source):
    head = b"GET /boot/x HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
    s = socket.create_connection((server, port), timeout=5, source_address=(source, 0))
    sent = 0
    for b in head:
        try:
            s.send(bytes([b]))
        except OSError:
            break
        sent += 1
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            break
    data = b""
    try:
        s.settimeout(3)
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    status = int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else 0
    print(f"closed after {sent} of {len(head)} bytes status {status}")


def tftp(server, source, count, name):
    """Requests paced a millisecond apart (a burst of 1,030 would overflow
    the server's socket buffer, not test its limits); answers gathered for
    up to 20 s in all."""
    socks, answers = [], {}
    req = b"\0\1" + name.encode() + b"\0octet\0timeout\0" + b"255\0"
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.setblocking(False)
        s.sendto(req, (server, 69))
        socks.append(s)
        time.sleep(0.001)
    sel = selectors.DefaultSelector()  # epoll: more than select()'s 1,024 descriptors
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + 20
    while len(answers) < count and time.monotonic() < end:
        for key, _ in sel.select(0.5):
            try:
                answers[key.fileobj] = key.fileobj.recv(2048)
                sel.unregister(key.fileobj)
            except OSError:
                pass
    oack = busy = granted = 0
    for d in answers.values():
        op = struct.unpack("!H", d[:2])[0]
        if op == 6:
            oack += 1
            granted += b"timeout\0" in d
        elif op == 3:
            oack += 1  # DATA: no options granted at all
        elif op == 5 and b"busy" in d:
            busy += 1
    other = count - oack - busy
    print(f"oack {oack} busy {busy} other {other} timeout_granted {granted}", flush=True)
    sys.stdin.read()


if MODE == "http-idle":
    http_idle(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
elif MODE == "slowloris":
    slowloris(sys.argv[2], int(sys.argv[3]), sys.argv[4])
elif MODE == "tftp":
    tftp(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
