# tests/cli/sync.sh - CLI tests of `outpost serve` and `outpost sync`: help, usage errors,
# exit statuses a script can use, and a session between two enrolled stores over loopback.
# Sourced by run.sh, whose helpers it uses (op, ok, has, new_store, enrolled, die).

# serve_bg DIR: run `outpost serve` for store DIR on a free loopback port in the
# background; sets SERVE_PID and SERVE_PORT.
serve_bg() {
    rm -f "$T/$1.port"
    "$OUTPOST" --store "$1" serve --listen 127.0.0.1:0 --port-file "$T/$1.port" \
        2>"$T/$1.serve.log" &
    SERVE_PID=$!
    _w=0
    while [ ! -s "$T/$1.port" ] && [ $_w -lt 100 ]; do sleep 0.1; _w=$((_w + 1)); done
    [ -s "$T/$1.port" ] || { cat "$T/$1.serve.log"; die "serve did not start"; }
    SERVE_PORT=$(cat "$T/$1.port")
}

serve_stop() { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null || true; }

t_help_serve() { check_help serve; has "--hub" "$T/out"; has "--port-file" "$T/out"; }
t_help_sync() { check_help sync; has "Exit status" "$T/out"; has "75" "$T/out"; }

t_sync_usage() {
    new_store s Site
    "$OUTPOST" --store s sync >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "sync without a peer was not a usage error"
    "$OUTPOST" --store s sync --once hub.example >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "a peer without a port was accepted"
    has "HOST:PORT" "$T/err"
    "$OUTPOST" --store s serve --listen off >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "serve with nothing to do was accepted"
    has "nothing to do" "$T/err"
    "$OUTPOST" --store s serve --listen nonsense >"$T/out" 2>"$T/err"
    [ $? -eq 78 ] || die "a bad listen address was not a configuration error"
    has "not HOST:PORT" "$T/err"
    printf '[sync]\nhub = nowhere\n' >bad.conf
    "$OUTPOST" --config bad.conf --store s status >"$T/out" 2>"$T/err"
    [ $? -eq 78 ] || die "a hub address without a port was accepted in the configuration"
    has "[sync] hub" "$T/err"
}

t_sync_once() {
    new_store a "Site A"
    new_store b "Site B"
    enrolled a b
    ok op --store a patient register --family Adams
    ok op --store b patient register --family Brown
    serve_bg a
    ok op --store b sync --once "127.0.0.1:$SERVE_PORT"
    has "in sync with 127.0.0.1:$SERVE_PORT: 1 commits in, 1 out" "$T/out"
    ok op --store b --json sync --once "127.0.0.1:$SERVE_PORT"
    has '"commits_in":0,"commits_out":0' "$T/out"
    serve_stop
    has "Site B: in sync" "$T/a.serve.log"
    [ "$("$OUTPOST" --store a digest)" = "$("$OUTPOST" --store b digest)" ] ||
        die "the two stores differ after sync"
    # Nobody listening any more: try again later (75), and say so.
    "$OUTPOST" --store b sync --once "127.0.0.1:$SERVE_PORT" >"$T/out" 2>"$T/err"
    [ $? -eq 75 ] || die "an unreachable peer did not exit 75"
    has "cannot reach 127.0.0.1:$SERVE_PORT" "$T/err"
}

t_sync_unenrolled() {
    new_store a "Site A"
    new_store b "Site B"
    enrolled a
    serve_bg a
    "$OUTPOST" --store b sync --once "127.0.0.1:$SERVE_PORT" >"$T/out" 2>"$T/err"
    _rc=$?
    serve_stop
    [ $_rc -ne 0 ] || die "an unenrolled store synced"
    has "enroll" "$T/err"
}
