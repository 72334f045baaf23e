#!/usr/bin/env python3
"""A small image source for the cache tests: serves the files of a folder
over HTTP/1.1 with single Range requests, optionally throttled, and logs
every request's path and Range header (one line each) to a file.

GET /redirect?to=URL answers 302 to URL (the cache must not follow it to
file:// or another protocol).

Two faults for the deploy program's tests, from the environment:
RANGE_CUT=N closes the first whole-file response after N bytes (the
client must resume with a Range); RANGE_CORRUPT=K flips one byte in the
middle of the file in the first K open-ended responses that carry it.

usage: range_server.py DIR PORT LOG [BYTES_PER_SECOND]"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
RATE = int(sys.argv[4]) if len(sys.argv) > 4 else 0
FAULTS = {"cut": int(os.environ.get("RANGE_CUT", "0")),
          "corrupt": int(os.environ.get("RANGE_CORRUPT", "0"))}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "")
        with open(LOG, "a") as f:
            f.write(f"{self.path} range={rng}\n")
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect?to="):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(ROOT, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        if rng.startswith("bytes=") and rng[6:].split("-")[0]:
            start = int(rng[6:].split("-")[0])
            last = rng[6:].split("-")[1]
            end = min(int(last), size - 1) if last else end
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end + 1 - start))
        self.end_headers()
        whole = end == size - 1
        cut = FAULTS["cut"] if start == 0 and whole else 0
        if cut:
            FAULTS["cut"] = 0
        middle = size // 2
        corrupt = FAULTS["corrupt"] > 0 and whole and start <= middle
        if corrupt:
            FAULTS["corrupt"] -= 1
        sent = start
        with open(path, "rb") as f:
            f.seek(start)
            while sent <= end:
                chunk = f.read(min(16384, end + 1 - sent))
                if not chunk:
                    break
                if corrupt and sent <= middle < sent + len(chunk):
                    b = bytearray(chunk)
                    b[middle - sent] ^= 0x40
                    chunk = bytes(b)
                if cut and sent + len(chunk) > cut:
                    chunk = chunk[:cut - sent]
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(chunk)
                if cut and sent >= cut:
                    self.close_connection = True
                    return
                if RATE:
                    time.sleep(len(chunk) / RATE)


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
