#!/usr/bin/env python3
"""Clients that cut their connection right after their TLS handshake.

usage: tls_cut.py HOST PORT CA CERT KEY COUNT

COUNT clients at once, each with a certificate of the CA: a TLS 1.2
handshake driven by hand, and the TCP connection closed as soon as the
client's last flight (its Finished) is sent, before the server's Finished
and SP header are read. nng 1.5.2's listener stops accepting for good when
that close lands before the server has asked for the client's SP header
(nng issue #1518). Prints "sent N" (handshakes that got that far)."""
import socket
import ssl
import sys
import threading

HOST, PORT, CA, CERT, KEY, COUNT = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6], int(sys.argv[6])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(CA)
ctx.check_hostname = False
ctx.load_cert_chain(CERT, KEY)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
sent = []


def one():
    s = socket.create_connection((HOST, PORT), timeout=10)
    into, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(into, out)
    flights = 0
    try:
        while True:
            try:
                tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                data = out.read()
                if data:
                    s.sendall(data)
                    flights += 1
                if flights == 2:  # ClientHello, then Certificate .. Finished
                    sent.append(1)
                    return
                r = s.recv(65536)
                if not r:
                    return
                into.write(r)
    finally:
        s.close()


def run():
    try:
        one()
    except OSError as e:
        print(f"error {e}", file=sys.stderr)


threads = [threading.Thread(target=run) for _ in range(COUNT)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"sent {len(sent)}")
