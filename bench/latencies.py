#!/usr/bin/python3
"""Commit -> agent latencies from the daemons' debug logs (one clock,
microsecond stamps), ms, one a line.
  latencies.py REVS_FILE WHAT(updated|received) AGENT_LOG_GLOB COORD_LOG...
A revision's commit is its first "propose committed revision=R" on any of
the coordinators; each agent line "sync view WHAT revision=R" of a
revision in REVS_FILE gives one latency. WHAT fanout: per revision, the
coordinators' share instead: commit -> the first "watch fan-out done" of
that revision or a later one that woke agents, on the node that woke the
most (the one the agents watch); the agent logs are not read."""
import datetime
import glob
import re
import sys


def ms(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000


revs = set(int(x) for x in open(sys.argv[1]).read().split())
what, agents = sys.argv[2], sys.argv[3]
commit = {}
for clog in sys.argv[4:]:
    for line in open(clog, errors="replace"):
        m = re.match(r"(\S+) debug propose committed revision=(\d+)", line)
        if m and int(m.group(2)) in revs:
            r, t = int(m.group(2)), ms(m.group(1))
            commit[r] = min(t, commit.get(r, t))
if what == "fanout":
    done = {}  # revision -> (woken, stamp) of the node that woke the most
    for clog in sys.argv[4:]:
        fan = []
        for line in open(clog, errors="replace"):
            m = re.match(r"(\S+) debug watch fan-out done revision=(\d+) parked=\d+ woken=(\d+)", line)
            if m and int(m.group(3)) > 0:
                fan.append((int(m.group(2)), ms(m.group(1)), int(m.group(3))))
        for r in commit:
            first = min((f for f in fan if f[0] >= r and f[1] >= commit[r]), default=None,
                        key=lambda f: f[1])
            if first and first[2] > done.get(r, (0, 0))[0]:
                done[r] = (first[2], first[1])
    for r, (_, t) in done.items():
        print("%.3f" % (t - commit[r]))
    sys.exit(0)
for f in glob.glob(agents):
    for line in open(f, errors="replace"):
        m = re.match(r"(\S+) debug sync view " + what + r" revision=(\d+)", line)
        if m and int(m.group(2)) in commit:
            print("%.3f" % (ms(m.group(1)) - commit[int(m.group(2))]))
