#!/usr/bin/env bash
# The main job on the embedded default: build, make a fleet CA in
# ./demo-data/pki (once), start a one-node coordinator on TLS with its data
# in ./demo-data, apply the example fleet as the CA's admin, show the
# machines. The coordinator keeps running for you to try bmctl (the
# BMCTL_* lines printed at the end); `deploy/quickstart.sh stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$PWD/demo-data
URL=${BMCTL_COORDINATOR:-tls+tcp://127.0.0.1:7400}
PKI=$DATA/pki
export BMCTL_COORDINATOR=$URL BMCTL_CA=$PKI/ca.crt BMCTL_CERT=$PKI/admin.crt BMCTL_KEY=$PKI/admin.key

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
if [ ! -e "$PKI/ca.key" ]; then
  build/bin/bmctl pki init "$PKI" >/dev/null
  build/bin/bmctl pki issue "$PKI" coordinator coord --address 127.0.0.1 >/dev/null
  build/bin/bmctl pki issue "$PKI" operator admin --role admin >/dev/null
fi
build/bin/bmcoord --data-dir "$DATA" --listen "$URL" --tls-ca "$PKI/ca.crt" \
  --tls-cert "$PKI/coord.crt" --tls-key "$PKI/coord.key" --tls-crl "$PKI/crl.pem" \
  --secrets-key "$PKI/secrets.key" 2>>"$DATA/bmcoord.log" &
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

bmcoord is running at $URL on TLS (data in $DATA, log in $DATA/bmcoord.log,
the fleet CA in $PKI).
Set:   export BMCTL_COORDINATOR=$URL BMCTL_CA=$PKI/ca.crt \\
              BMCTL_CERT=$PKI/admin.crt BMCTL_KEY=$PKI/admin.key
Try:   build/bin/bmctl describe machine r12n01
       build/bin/bmctl get machines --rack rack12 -o json
Stop:  deploy/quickstart.sh stop
MSG
