#!/usr/bin/env python3
"""Raw HTTP against bmagent, from the client namespace: what curl will not
send (pipelined requests, malformed and oversized heads, slow clients,
too many connections).

usage: http_probe.py HOST PORT MAX_CONNECTIONS HEADER_TIMEOUT IDLE_TIMEOUT SOURCE
SOURCE is the address connections come from: machine n1's (10.12.0.11), as
its script is served only to it.
Prints "ok - ..." / "not ok - ..." lines."""
import socket, sys, time

HOST, PORT = sys.argv[1], int(sys.argv[2])
MAX_CONNS, HEAD_T, IDLE_T = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
SOURCE = sys.argv[6]
fails = 0


def ok(cond, what):
    global fails
    print(("ok - " if cond else "not ok - ") + what)
    fails += 0 if cond else 1


def conn():
    s = socket.create_connection((HOST, PORT), timeout=10, source_address=(SOURCE, 0))
    return s


def read_all(s, timeout=5.0):
    """Everything until the server closes (or timeout)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return data, True
            data += d
    except (socket.timeout, ConnectionResetError):
        return data, False


def responses(data, heads=()):
    """Split a byte stream of answers by Content-Length: [(status, headers,
    body)]; heads[i] true: answer i is to a HEAD (no body)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        n = 0 if len(out) < len(heads) and heads[len(out)] else int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        data = rest[n:]
    return out


def ask(raw, timeout=5.0):
    s = conn()
    s.sendall(raw)
    data, closed = read_all(s, timeout)
    s.close()
    return responses(data), closed


# Pipelining: three requests in one segment, three answers in order, then
# the close the last one asked for.
pipe = (b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.1\r\nHost: a\r\n\r\n"
        b"HEAD /boot/52:54:00:12:00:01.ipxe HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
s = conn()
s.sendall(pipe)
data, closed = read_all(s)
s.close()
r = responses(data, heads=(False, True, False))
ok([x[0] for x in r] == [200, 200, 404] and b"exit" in r[0][2] and r[1][2] == b""
   and int(r[1][1]["content-length"]) > 0 and closed,
   "three pipelined requests answered in order (GET, HEAD without body, 404), then closed")

# A request cut across many segments is still one request.
s = conn()
for ch in [b"GET /boot/52:54", b":00:12:00:01.ip", b"xe HTTP/1.1\r\nHo", b"st: a\r\n", b"\r\n"]:
    s.sendall(ch)
    time.sleep(0.05)
s.settimeout(5)
d = s.recv(65536)
ok(d.startswith(b"HTTP/1.1 200"), "a request in five segments is answered once")
s.close()

cases = [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n", 414, "request line too long: 414"),
    (b"GET / HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 20000 + b"\r\n\r\n", 431,
     "header too large: 431"),
    (b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 100 + b"\r\n", 431, "too many header fields: 431"),
    (b"POST /callback HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413,
     "request body too large: 413"),
    (b"DELETE /boot/x HTTP/1.1\r\n\r\n", 405, "DELETE: 405"),
    (b"PUT /callback HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "PUT on /callback: 405"),
    (b"GET /boot/../../etc/passwd HTTP/1.1\r\n\r\n", 400, "traversal with ..: 400"),
    (b"GET /boot/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n", 400, "traversal with %2e%2e: 400"),
    (b"GET /boot/..%2f..%2fetc/passwd HTTP/1.1\r\n\r\n", 400, "traversal with ..%2f: 400"),
    (b"GET http://10.12.0.1/etc/passwd HTTP/1.1\r\n\r\n", 400, "absolute URL: 400"),
    (b"GET /boot/%00 HTTP/1.1\r\n\r\n", 400, "encoded NUL: 400"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 request line: 505"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40 + b"\r\n\r\n", 400,
     "TLS hello: 400"),
    (b"POST /callback HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501,
     "chunked body: 501"),
]
for raw, want, what in cases:
    r, closed = ask(raw)
    ok(len(r) == 1 and r[0][0] == want and closed, what + " and closed")

allow = ask(b"DELETE /boot/x HTTP/1.1\r\n\r\n")[0]
ok(allow and allow[0][1].get("allow") == "GET, HEAD", "405 says Allow: GET, HEAD")

# A slow head: 408 after the header timeout, then the close.
s = conn()
s.sendall(b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.1\r\nHost: a\r\n")
t0 = time.monotonic()
data, closed = read_all(s, HEAD_T + 5)
took = time.monotonic() - t0
r = responses(data)
ok(len(r) == 1 and r[0][0] == 408 and closed and took < HEAD_T + 3,
   "a head never finished: 408 and closed after the header timeout")
s.close()

# A connection that never sends anything is closed (no answer) after the
# header timeout; one idle after a request after the idle timeout.
s = conn()
data, closed = read_all(s, HEAD_T + 5)
ok(data == b"" and closed, "a silent connection is closed without an answer")
s.close()
s = conn()
s.sendall(b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.1\r\n\r\n")
t0 = time.monotonic()
data, closed = read_all(s, IDLE_T + 5)
r = responses(data)
ok(len(r) == 1 and r[0][0] == 200 and closed and time.monotonic() - t0 >= IDLE_T - 0.5,
   "a keep-alive connection idle past the idle timeout is closed")
s.close()

# The connection cap: MAX open, the next is closed at once; once they go,
# new ones are served again.
held = [conn() for _ in range(MAX_CONNS)]
time.sleep(0.2)
extra = conn()
data, closed = read_all(extra, 3)
ok(data == b"" and closed, "connection %d of %d is closed at once" % (MAX_CONNS + 1, MAX_CONNS))
extra.close()
for h in held:
    h.close()
time.sleep(0.3)
r, _ = ask(b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.1\r\nConnection: close\r\n\r\n")
ok(len(r) == 1 and r[0][0] == 200, "after they close, a new connection is served")

# HTTP/1.0: closed after the answer unless it asks for keep-alive.
r, closed = ask(b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.0\r\n\r\n")
ok(len(r) == 1 and r[0][0] == 200 and closed, "HTTP/1.0 without keep-alive: closed after")
s = conn()
s.sendall(b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
s.settimeout(5)
first = s.recv(65536)
s.sendall(b"GET /boot/52:54:00:12:00:01.ipxe HTTP/1.0\r\n\r\n")
data, closed = read_all(s)
ok(b"Connection: keep-alive" in first and first.startswith(b"HTTP/1.1 200") and
   data.startswith(b"HTTP/1.1 200") and closed, "HTTP/1.0 keep-alive: a second request on it")
s.close()

sys.exit(1 if fails else 0)
