#!/usr/bin/env bash
# The main job on the embedded default: build, start a one-node coordinator
# with its data in ./demo-data, apply the example fleet, show the machines.
# The coordinator keeps running for you to try bmctl; `deploy/quickstart.sh
# stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$PWD/demo-data
URL=${BMCTL_COORDINATOR:-tcp://127.0.0.1:7400}
export BMCTL_COORDINATOR=$URL

stop() {
  if [ -f "$DATA/bmcoord.pid" ] && kill -0 "$(cat "$DATA/bmcoord.pid")" 2>/dev/null; then
    kill -TERM "$(cat "$DATA/bmcoord.pid")"
    for _ in $(seq 1 50); do kill -0 "$(cat "$DATA/bmcoord.pid")" 2>/dev/null || break; sleep 0.1; done
    echo "quickstart: coordinator stopped"
  fi
  rm -f "$DATA/bmcoord.pid"
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi

./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
stop
mkdir -p "$DATA"
build/bin/bmcoord --data-dir "$DATA" --listen "$URL" 2>>"$DATA/bmcoord.log" &
echo $! >"$DATA/bmcoord.pid"
for _ in $(seq 1 50); do
  build/bin/bmctl --timeout 0.5 status >/dev/null 2>&1 && break
  kill -0 "$(cat "$DATA/bmcoord.pid")" 2>/dev/null || { cat "$DATA/bmcoord.log"; exit 1; }
  sleep 0.1
done

echo "\$ bmctl apply -f deploy/examples/fleet.yaml"
build/bin/bmctl apply -f deploy/examples/fleet.yaml
echo "\$ bmctl get machines"
build/bin/bmctl get machines
cat <<MSG

bmcoord is running at $URL (data in $DATA, log in $DATA/bmcoord.log).
Try:   build/bin/bmctl describe machine r12n01
       build/bin/bmctl get machines --rack rack12 -o json
Stop:  deploy/quickstart.sh stop
MSG
