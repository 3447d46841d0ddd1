#!/usr/bin/env bash
# Smoke test of the Debian package: packaging/smoke.sh dist/processengine_<version>_amd64.deb
#
# Extracts the package into a temporary root (dpkg-deb -x, nothing installed) and runs the
# frozen executable from there in a bare environment (no PYTHONPATH, no user data, a temp DB):
# --version, a headless `run --json` of every manual-trigger example, usage errors, a run on a
# terminal (rich's progress line), an HTTP request node
# against a local server, `serve` answering a webhook, `serve --api` (OpenAPI document, offline
# docs, a run through the API), the PostgreSQL driver reaching libpq,
# `list --json` over the same database, and `studio --screenshot` offscreen. Any problem
# stops it with a message and a non-zero exit. Only 127.0.0.1 is contacted.
set -euo pipefail

DEB=${1:?usage: packaging/smoke.sh dist/processengine_VERSION_ARCH.deb}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pe-smoke.XXXXXX")
# Every background process is started by `spawn` as the leader of a process group of its own
# (setsid execs in place, so $! is the server itself, never a subshell running it); on exit,
# whatever happens, each group gets TERM, then KILL if it is still there after 5 s.
PIDS=()
spawn() {  # spawn LOG COMMAND...: COMMAND in the background, output to LOG
    local log=$1
    shift
    : >"$log"  # exists at once: the child opens it only when it gets to run
    setsid "$@" >>"$log" 2>&1 &
    PIDS+=($!)
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 -- "-$pid" 2>/dev/null || continue 2
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "smoke: $*"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
# JSON checks use the build machine's python3 only to read the frozen program's output.
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

[[ -f $DEB ]] || fail "no such package: $DEB"
ROOT=$TMP/root
say "extracting $DEB into $ROOT"
dpkg-deb -x "$DEB" "$ROOT"

say "checking the package layout"
for f in opt/processengine/processengine usr/share/applications/processengine.desktop \
         usr/share/mime/packages/processengine.xml usr/share/icons/hicolor/scalable/apps/processengine.svg \
         usr/share/icons/hicolor/48x48/apps/processengine.png usr/share/icons/hicolor/256x256/apps/processengine.png \
         usr/share/doc/processengine/copyright; do
    [[ -e $ROOT/$f ]] || fail "package lacks /$f"
done
[[ -L $ROOT/usr/bin/processengine ]] || fail "/usr/bin/processengine is not a symlink"
[[ $(readlink "$ROOT/usr/bin/processengine") != /* ]] || fail "/usr/bin/processengine must be a relative link"
EXE=$ROOT/usr/bin/processengine
[[ -x $EXE ]] || fail "/usr/bin/processengine does not resolve to an executable"

HOME_DIR=$TMP/home
mkdir -p "$HOME_DIR" "$TMP/runtime"
chmod 700 "$TMP/runtime"
DB=$TMP/smoke.db
PE=(env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" LANG=C.UTF-8 XDG_RUNTIME_DIR="$TMP/runtime"
    XDG_DATA_HOME="$HOME_DIR/.local/share" XDG_CONFIG_HOME="$HOME_DIR/.config"
    QT_QPA_PLATFORM=offscreen PROCESSENGINE_DB="$DB" "$EXE")
pe() { "${PE[@]}" "$@"; }

EXPECTED_VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/pyproject.toml" | head -n1)
say "processengine --version (expect $EXPECTED_VERSION)"
got=$(pe --version)
[[ $got == "processengine $EXPECTED_VERSION" ]] || fail "--version printed '$got'"

runs=0
for wf in "$ROOT"/opt/processengine/_internal/app/resources/examples/*.pe.json; do
    if ! grep -q '"manual_trigger"' "$wf"; then continue; fi
    say "run --json $(basename "$wf")"
    out=$(pe run "$wf" --json) || fail "run $(basename "$wf") exited $?"
    status=$(json_get 'd["status"]' <<<"$out")
    [[ $status == completed ]] || fail "run $(basename "$wf") ended '$status'"
    runs=$((runs + 1))
done
[[ $runs -ge 1 ]] || fail "no example workflow with a manual trigger in the bundle"

say "an unknown command is a usage error (64), never the app; studio without a display says so"
rc=0; pe lst >/dev/null 2>"$TMP/lst.err" || rc=$?
[[ $rc == 64 ]] || fail "processengine lst exited $rc: $(cat "$TMP/lst.err")"
rc=0
env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" LANG=C.UTF-8 PROCESSENGINE_DB="$DB" "$EXE" studio >/dev/null 2>"$TMP/nodisplay.err" || rc=$?
[[ $rc == 1 ]] && grep -q "no display" "$TMP/nodisplay.err" || fail "studio without a display exited $rc: $(cat "$TMP/nodisplay.err")"

say "run on a terminal: the live progress line (rich) and the plain result"
if command -v script >/dev/null; then
    tty_out=$(script -qec "env -i PATH=/usr/bin:/bin HOME=$HOME_DIR LANG=C.UTF-8 TERM=xterm PROCESSENGINE_DB=$DB $EXE run $ROOT/opt/processengine/_internal/app/resources/examples/hello.pe.json" /dev/null) ||
        fail "run on a terminal exited $?: $tty_out"
    [[ $tty_out == *"completed Hello"* ]] || fail "run on a terminal printed: $tty_out"
fi

say "HTTP request node against a local server"
mkdir -p "$TMP/www"
echo '{"items": [1, 2, 3]}' >"$TMP/www/items.json"
HTTP_PORT=$(free_port)
spawn "$TMP/http.log" python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$TMP/www"
cat >"$TMP/fetch.pe.json" <<EOF
{"format": "processengine/1", "id": "5e0c9d1a-7f3b-4c2e-8a6d-1b2c3d4e5f60", "name": "Smoke fetch",
 "variables": {"base": "http://127.0.0.1:$HTTP_PORT"},
 "nodes": [
  {"id": "start", "type": "manual_trigger", "name": "Start", "position": [0, 0], "config": {}},
  {"id": "get", "type": "http_request", "name": "Get", "position": [240, 0],
   "config": {"method": "GET", "url": "{{ vars.base }}/items.json", "timeout_s": 10},
   "retry": {"max_attempts": 5, "initial_delay_s": 0.2, "multiplier": 2.0, "max_delay_s": 2, "jitter": false}},
  {"id": "count", "type": "set", "name": "Count", "position": [480, 0],
   "config": {"values": {"n": "{{ len(input.body['items']) }}"}}}
 ],
 "connections": [
  {"from": "start", "from_port": "out", "to": "get", "to_port": "in"},
  {"from": "get", "from_port": "out", "to": "count", "to_port": "in"}
 ]}
EOF
out=$(pe run "$TMP/fetch.pe.json" --json) || fail "HTTP workflow exited $?: $out"
n=$(json_get 'd["outputs"]["count"]["n"]' <<<"$out")
[[ $n == 3 ]] || fail "HTTP workflow counted '$n' items, expected 3"

say "serve webhook_echo.pe.json and POST to it"
spawn "$TMP/serve.log" "${PE[@]}" serve "$ROOT/opt/processengine/_internal/app/resources/examples/webhook_echo.pe.json" --port 0
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/.* on \(http[^ ]*\)$/\1/p' "$TMP/serve.log")
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] || fail "serve did not start: $(cat "$TMP/serve.log")"
reply=$(curl -sS --max-time 20 -X POST -H 'Content-Type: application/json' -d '{"x": 1}' \
    -w '\n%{http_code}' "${url}echo?name=smoke") || fail "webhook request failed"
[[ $(tail -n1 <<<"$reply") == 201 ]] || fail "webhook answered: $reply"
[[ $(head -n1 <<<"$reply" | json_get 'd["who"]') == smoke ]] || fail "webhook reply: $reply"

say "serve --api: health, the OpenAPI document, the offline docs page and a run through the API"
API_PORT=$(free_port)
spawn "$TMP/api.log" "${PE[@]}" serve --api --port "$API_PORT" --token smoke-token
API="http://127.0.0.1:$API_PORT"
for _ in $(seq 1 150); do
    curl -s --max-time 2 -o /dev/null "$API/healthz" && break
    sleep 0.1
done
curl -sf --max-time 10 "$API/openapi.json" | json_get 'd["openapi"]' | grep -q '^3\.' \
    || fail "no OpenAPI document: $(cat "$TMP/api.log")"
curl -sf --max-time 10 "$API/docs" | grep -qi swagger || fail "no docs page"
curl -sf --max-time 10 -o /dev/null "$API/docs/static/swagger-ui-bundle.js" || fail "the docs page's script is not bundled"
created=$(curl -sS --max-time 20 -H "Authorization: Bearer smoke-token" -H 'Content-Type: application/json' \
    -d "{\"workflow\": $(cat "$ROOT/opt/processengine/_internal/app/resources/examples/hello.pe.json")}" \
    "$API/api/v1/process-engine/executions") || fail "POST executions failed"
eid=$(json_get 'd["execution_id"]' <<<"$created") || fail "POST executions answered: $created"
for _ in $(seq 1 100); do
    st=$(curl -s --max-time 5 -H "Authorization: Bearer smoke-token" \
        "$API/api/v1/process-engine/executions/processes/$eid/status" | json_get 'd["status"]')
    [[ $st == completed ]] && break
    sleep 0.1
done
[[ $st == completed ]] || fail "the API's run ended '$st'"
runs=$((runs + 1))

say "PostgreSQL driver (psycopg + bundled libpq) reaches the network layer"
if pe run "$ROOT/opt/processengine/_internal/app/resources/examples/hello.pe.json" \
        --db "postgresql://smoke@127.0.0.1:1/none" >"$TMP/pg.out" 2>"$TMP/pg.err"; then
    fail "a run against a closed PostgreSQL port succeeded"
fi
grep -q "Connection refused" "$TMP/pg.err" || fail "PostgreSQL driver did not load: $(cat "$TMP/pg.err")"
if [[ -n ${PROCESSENGINE_TEST_PG_URL:-} ]]; then
    say "run against PROCESSENGINE_TEST_PG_URL"
    out=$(pe run "$ROOT/opt/processengine/_internal/app/resources/examples/hello.pe.json" --json \
        --db "$PROCESSENGINE_TEST_PG_URL" --workspace "smoke-$$") || fail "PostgreSQL run exited $?"
    [[ $(json_get 'd["status"]' <<<"$out") == completed ]] || fail "PostgreSQL run: $out"
fi

say "list --json over the same database"
listed=$(pe list --json | json_get 'len(d)')
expected=$((runs + 2))  # the examples, the HTTP workflow and the webhook request
[[ $listed -ge $expected ]] || fail "list shows $listed executions, expected at least $expected"

say "studio --screenshot offscreen"
PNG=$TMP/studio.png
pe studio "$ROOT/opt/processengine/_internal/app/resources/examples/branch_and_loop.pe.json" \
    --screenshot "$PNG" >"$TMP/studio.log" 2>&1 || fail "studio exited $?: $(cat "$TMP/studio.log")"
[[ -s $PNG ]] || fail "studio wrote no screenshot"
python3 - "$PNG" <<'EOF' || fail "the screenshot is not a plausible window picture"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
idat, pos = b"", 8
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + length]
    pos += 12 + length
raw = zlib.decompress(idat)
print(f"smoke: screenshot {width}x{height}, {len(data)} bytes, {len(set(raw))} distinct byte values")
assert width >= 640 and height >= 400, "window too small"
assert len(data) > 20_000 and len(set(raw)) > 64, "looks blank"
EOF
if [[ -n ${SMOKE_KEEP_SCREENSHOT:-} ]]; then cp "$PNG" "$SMOKE_KEEP_SCREENSHOT"; fi

# The platform users actually get: X11 through the bundled xcb plugin, on a virtual screen.
if [[ ${SMOKE_X11:-1} != 0 ]]; then
    say "studio --run --screenshot on X11 (Xvfb, xcb plugin)"
    command -v xvfb-run >/dev/null ||
        fail "xvfb-run not found: apt-get install xvfb xauth (or SMOKE_X11=0 to leave out the X11 check)"
    X11_PNG=$TMP/studio-x11.png
    env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" LANG=C.UTF-8 XDG_RUNTIME_DIR="$TMP/runtime" \
        QT_QPA_PLATFORM=xcb PROCESSENGINE_DB="$DB" \
        xvfb-run -a -s "-screen 0 1600x1000x24" "$EXE" studio \
        "$ROOT/opt/processengine/_internal/app/resources/examples/fan_out_merge.pe.json" --run \
        --screenshot "$X11_PNG" >"$TMP/x11.log" 2>&1 ||
        fail "studio on X11 exited $?: $(tail -n 20 "$TMP/x11.log")"
    [[ $(stat -c %s "$X11_PNG") -gt 20000 ]] || fail "the X11 screenshot looks blank"
fi

say "all checks passed ($(du -h "$DEB" | cut -f1) package, $(du -sh "$ROOT/opt/processengine" | cut -f1) installed)"
