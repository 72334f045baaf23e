#!/usr/bin/env python3
"""The etcd side of bench/sync.sh: N watchers on etcd's v3 JSON gateway,
each watching its own rack's prefix and the shared profiles prefix (as an
agent watches its rack and the profiles it boots), and a writer making the
same two kinds of change as the agent run. Prints one latency per watcher
per event, in ms: the put's acknowledgement (its commit) -> the event
received by the watcher (negative values, an event that beat the put's
answer home, count as 0).

usage: etcd_watch.py URL WATCHERS CHANGES_ONE CHANGES_ALL OUT_ONE OUT_ALL"""
import base64
import http.client
import json
import sys
import threading
import time
import urllib.parse

URL, N, ONE, ALL, OUT_ONE, OUT_ALL = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5], sys.argv[6]
u = urllib.parse.urlparse(URL)
b64 = lambda s: base64.b64encode(s.encode()).decode()
recv = {}  # key+value -> [receive times]
lock = threading.Lock()
ready = threading.Barrier(2 * N + 1)


def watch(prefix):
    c = http.client.HTTPConnection(u.hostname, u.port)
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = json.dumps({"create_request": {"key": b64(prefix), "range_end": b64(end)}})
    c.request("POST", "/v3/watch", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    first = True
    while True:
        line = r.readline()
        if not line:
            return
        t = time.time()
        if first:  # the created message
            first = False
            ready.wait()
            continue
        res = json.loads(line).get("result", {})
        for ev in res.get("events", []):
            kv = ev["kv"]
            k = base64.b64decode(kv["key"]).decode() + "=" + base64.b64decode(kv.get("value", "")).decode()
            with lock:
                recv.setdefault(k, []).append(t)


def put(key, value):
    c = http.client.HTTPConnection(u.hostname, u.port)
    c.request("POST", "/v3/kv/put", json.dumps({"key": b64(key), "value": b64(value)}),
              {"Content-Type": "application/json"})
    c.getresponse().read()
    t = time.time()
    c.close()
    return t


for i in range(1, N + 1):
    threading.Thread(target=watch, args=(f"/racks/r{i}/",), daemon=True).start()
    threading.Thread(target=watch, args=("/profiles/",), daemon=True).start()
ready.wait()
acks_one, acks_all = {}, {}
for c in range(1, ONE + 1):
    i = c % N + 1
    k = f"/racks/r{i}/m1=gen{c}"
    acks_one[k] = put(f"/racks/r{i}/m1", f"gen{c}")
for c in range(1, ALL + 1):
    k = f"/profiles/p=gen{c}"
    acks_all[k] = put("/profiles/p", f"gen{c}")
    time.sleep(0.2)
time.sleep(1)
for acks, out in ((acks_one, OUT_ONE), (acks_all, OUT_ALL)):
    with open(out, "w") as f:
        for k, t0 in acks.items():
            for t in recv.get(k, []):
                f.write("%.3f\n" % max(0.0, (t - t0) * 1000))
