#!/usr/bin/env bash
# tests/cli/linksim.sh - tests of the link simulator (tests/linksim/) with real loopback
# sockets: latency, bandwidth, exact cuts, a fresh cut budget per connection, dropped
# connections, EOF forwarding, bounded memory, and bad command lines. Python 3 (standard
# library only) plays the servers and clients.
#
#   LINKSIM=build/debug/linksim bash tests/cli/linksim.sh [TEST-NAME-PATTERN]
#
# Prints `ok - NAME` / `not ok - NAME` (with the test's log) and `N passed, M failed`;
# exits non-zero if any test failed.
set -eu

LINKSIM=${LINKSIM:-build/debug/linksim}
case $LINKSIM in /*) ;; *) LINKSIM=$(pwd)/$LINKSIM ;; esac
if [ ! -x "$LINKSIM" ]; then
    echo "linksim.sh: $LINKSIM is not an executable (make FLAVOUR=debug build)" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "linksim.sh: python3 is required" >&2; exit 2; }
ONLY=${1:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/linksim-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
passed=0
failed=0

# The network helper: servers that log each connection's outcome, and clients that print
# what they measured on one line.
cat >"$TMP/net.py" <<'EOF'
import os, socket, sys, threading, time

def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)

def serve(mode, port_file, log_file):
    """echo: send back what arrives. sink: count bytes until EOF or reset, then reply
    with the count and close. stall: accept and never read. Logs `bytes=N end=HOW`."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    write_atomic(port_file, "%d\n" % ls.getsockname()[1])
    lock = threading.Lock()

    def log(line):
        with lock, open(log_file, "a") as f:
            f.write(line + "\n")

    def handle(conn):
        if mode == "stall":
            time.sleep(60)
            return
        conn.settimeout(20)
        n, end = 0, "eof"
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                n += len(data)
                if mode == "echo":
                    conn.sendall(data)
        except ConnectionResetError:
            end = "reset"
        except OSError as e:
            end = "error:" + type(e).__name__
        if mode == "sink" and end == "eof":
            try:
                conn.sendall(b"%d\n" % n)
            except OSError:
                pass
        log("bytes=%d end=%s" % (n, end))
        conn.close()

    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()

def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def rtt(port):
    """Milliseconds for one byte to go to an echo server and back."""
    s = connect(port)
    t0 = time.monotonic()
    s.sendall(b"x")
    got = s.recv(1)
    ms = (time.monotonic() - t0) * 1000
    assert got == b"x", got
    print(int(ms))

def send(port, n):
    """Send N bytes, shut down writing, read the reply until EOF."""
    s = connect(port)
    t0 = time.monotonic()
    sent = "ok"
    try:
        s.sendall(b"y" * int(n))
        s.shutdown(socket.SHUT_WR)
    except OSError:  # reset, broken pipe, or not connected any more
        sent = "reset"
    reply = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            reply += data
        reply = reply.decode().strip() or "none"
    except ConnectionResetError:
        reply = "reset"
    print("sent=%s reply=%s ms=%d" % (sent, reply, (time.monotonic() - t0) * 1000))

def echo_count(port, n):
    """Send N bytes to an echo server and count what comes back until EOF or reset."""
    s = connect(port)
    s.sendall(b"e" * int(n))
    got, end = 0, "eof"
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += len(data)
    except ConnectionResetError:
        end = "reset"
    print("got=%d end=%s" % (got, end))

def free_port():
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()

def probe(port):
    """How the first read on a fresh connection ends: data, eof or reset."""
    try:
        s = connect(port)  # the reset may already be there when connect() returns
        print("data" if s.recv(1) else "eof")
    except ConnectionResetError:
        print("reset")

def flood(port, seconds, pid):
    """Push as much as the link takes for SECONDS; report it and the proxy's RSS."""
    s = connect(port)
    s.setblocking(False)
    buf, total, end = b"z" * 65536, 0, time.monotonic() + float(seconds)
    while time.monotonic() < end:
        try:
            total += s.send(buf)
        except BlockingIOError:
            time.sleep(0.005)
    with open("/proc/%s/status" % pid) as f:
        rss = [l.split()[1] for l in f if l.startswith("VmRSS:")][0]
    print("sent=%d rss_kb=%s" % (total, rss))

cmd, args = sys.argv[1], sys.argv[2:]
{"serve": serve, "rtt": rtt, "send": send, "echo_count": echo_count, "free_port": free_port,
 "probe": probe, "flood": flood}[cmd](*args)
EOF

# --- helpers (used inside tests, which run in subshells) ------------------------------

fail() { echo "FAIL: $*"; exit 1; }
py() { python3 "$TMP/net.py" "$@"; }

# wait_for CMD...: retry for up to 5 s until CMD succeeds.
wait_for() {
    for _ in $(seq 100); do
        "$@" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
has_line() { grep -qx -- "$1" "$2"; }
nonempty() { [ -s "$1" ]; }

# Processes a test started, killed by id when the test's subshell ends.
PIDS=()
kill_started() { for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done; }

# start_server MODE: a python server on a free port; sets SRV_PORT, logs to $T/server.log.
start_server() {
    : >"$T/server.log"
    rm -f "$T/server.port"
    # Not through py(): $! must be python's own pid, so the kill reaches it.
    python3 "$TMP/net.py" serve "$1" "$T/server.port" "$T/server.log" &
    PIDS+=($!)
    wait_for nonempty "$T/server.port" || fail "server did not start"
    SRV_PORT=$(cat "$T/server.port")
}

# start_linksim ARGS...: linksim in front of the server; sets LS_PORT and LS_PID.
start_linksim() {
    rm -f "$T/ls.port" "$T/stats"
    "$LINKSIM" --listen 127.0.0.1:0 --to "127.0.0.1:$SRV_PORT" --port-file "$T/ls.port" \
        --stats "$T/stats" "$@" </dev/null >/dev/null 2>"$T/ls.err" &
    LS_PID=$!
    PIDS+=("$LS_PID")
    wait_for nonempty "$T/ls.port" || { cat "$T/ls.err"; fail "linksim did not start"; }
    LS_PORT=$(cat "$T/ls.port")
}

# stop_linksim: SIGTERM, which must end it cleanly with status 0.
stop_linksim() {
    kill -TERM "$LS_PID"
    rc=0
    wait "$LS_PID" || rc=$?
    echo "linksim stderr:"
    cat "$T/ls.err"
    [ "$rc" -eq 0 ] || fail "linksim exited with status $rc after SIGTERM"
}

# --- tests ----------------------------------------------------------------------------

test_latency() {
    start_server echo
    direct=$(py rtt "$SRV_PORT")
    start_linksim --latency-ms 100
    via=$(py rtt "$LS_PORT")
    echo "echo round trip: direct ${direct} ms, through --latency-ms 100: ${via} ms"
    [ "$direct" -lt 50 ] || fail "direct round trip took $direct ms"
    [ "$via" -ge 200 ] || fail "round trip through linksim took $via ms, expected >= 200"
    [ "$via" -lt 1000 ] || fail "round trip through linksim took $via ms, expected < 1000"
    stop_linksim
}

test_bandwidth() {
    start_server sink
    start_linksim --bandwidth 400000
    out=$(py send "$LS_PORT" 200000)
    echo "200000 bytes through --bandwidth 400000: $out"
    case $out in "sent=ok reply=200000 "*) ;; *) fail "unexpected result: $out" ;; esac
    ms=${out##*ms=}
    [ "$ms" -ge 400 ] || fail "transfer took $ms ms, expected >= 400"
    [ "$ms" -lt 3000 ] || fail "transfer took $ms ms, expected < 3000"
    stop_linksim
    has_line "bytes_up 200000" "$T/stats" || fail "stats: $(cat "$T/stats")"
}

test_cut_every_exact() {
    start_server sink
    start_linksim --cut-every 16384
    out=$(py send "$LS_PORT" 100000)
    echo "client: $out"
    case $out in *reset*) ;; *) fail "client was not reset: $out" ;; esac
    wait_for grep -q end= "$T/server.log" || fail "server saw no connection end"
    echo "server: $(cat "$T/server.log")"
    has_line "bytes=16384 end=reset" "$T/server.log" ||
        fail "server did not get exactly 16384 bytes then a reset"
    wait_for has_line "cuts 1" "$T/stats" || fail "stats: $(cat "$T/stats")"
    has_line "bytes_up 16384" "$T/stats" || fail "stats: $(cat "$T/stats")"
    has_line "bytes_down 0" "$T/stats" || fail "stats: $(cat "$T/stats")"
    stop_linksim
    grep -q "^linksim: conn 1 cut after 16384 bytes$" "$T/ls.err" || fail "no cut log line"
}

test_cut_every_fresh_budget() {
    start_server sink
    start_linksim --cut-every 16384
    py send "$LS_PORT" 100000 >/dev/null
    wait_for has_line "cuts 1" "$T/stats" || fail "first connection not cut"
    py send "$LS_PORT" 100000 >/dev/null
    wait_for has_line "cuts 2" "$T/stats" || fail "second connection not cut"
    # A reconnecting client that needs less than a budget gets all the way through.
    out=$(py send "$LS_PORT" 1000)
    echo "third connection: $out"
    case $out in "sent=ok reply=1000 "*) ;; *) fail "small transfer failed: $out" ;; esac
    wait_for has_line "connections 3" "$T/stats" || fail "stats: $(cat "$T/stats")"
    wait_for grep -q "^linksim: conn 3 closed" "$T/ls.err" || fail "conn 3 did not close"
    echo "server: $(tr '\n' ' ' <"$T/server.log")"
    [ "$(grep -cx "bytes=16384 end=reset" "$T/server.log")" -eq 2 ] ||
        fail "expected two 16384-byte cuts"
    has_line "bytes=1000 end=eof" "$T/server.log" || fail "third connection incomplete"
    has_line "cuts 2" "$T/stats" || fail "stats: $(cat "$T/stats")"
    has_line "bytes_up $((16384 * 2 + 1000))" "$T/stats" || fail "stats: $(cat "$T/stats")"
    stop_linksim
}

test_cut_counts_both_directions() {
    start_server echo
    # The latency keeps the echo behind the request: 10000 bytes go up, then the budget
    # leaves exactly 6384 for the way back.
    start_linksim --cut-every 16384 --latency-ms 50
    out=$(py echo_count "$LS_PORT" 10000)
    echo "client: $out"
    [ "$out" = "got=6384 end=reset" ] || fail "expected 6384 bytes back, then a reset"
    wait_for has_line "cuts 1" "$T/stats" || fail "stats: $(cat "$T/stats")"
    has_line "bytes_up 10000" "$T/stats" || fail "stats: $(cat "$T/stats")"
    has_line "bytes_down 6384" "$T/stats" || fail "stats: $(cat "$T/stats")"
    stop_linksim
}

# cut_sizes SEED OUT: the bytes the sink got on each of four connections cut at random,
# space-separated into file OUT.
cut_sizes() {
    : >"$T/server.log"
    start_linksim --cut-random 20000 --seed "$1"
    for i in 1 2 3 4; do
        py send "$LS_PORT" 200000 >/dev/null
        wait_for has_line "connections $i" "$T/stats" || fail "connection $i: $(cat "$T/stats")"
        wait_for has_line "cuts $i" "$T/stats" || fail "connection $i was not cut"
        wait_for test "$(grep -c end= "$T/server.log")" -eq "$i" || fail "server log"
    done
    stop_linksim >/dev/null
    sed -n 's/^bytes=\([0-9]*\) end=reset$/\1/p' "$T/server.log" | tr '\n' ' ' >"$2"
}

test_cut_random_seeded() {
    start_server sink
    cut_sizes 7 "$T/a"
    cut_sizes 7 "$T/b"
    cut_sizes 8 "$T/c"
    a=$(cat "$T/a") b=$(cat "$T/b") c=$(cat "$T/c")
    echo "seed 7: $a; again: $b; seed 8: $c"
    [ "$(echo "$a" | wc -w)" -eq 4 ] || fail "expected four cuts with seed 7"
    [ "$a" = "$b" ] || fail "the same seed gave different cuts"
    [ "$a" != "$c" ] || fail "different seeds gave the same cuts"
    for n in $a $c; do
        [ "$n" -ge 1 ] || fail "cut size $n out of range"
        [ "$n" -lt 200000 ] || fail "cut size $n out of range"
    done
}

test_target_down() {
    SRV_PORT=$(py free_port)
    start_linksim
    first=$(py probe "$LS_PORT")
    echo "client: $first"
    [ "$first" = reset ] || fail "client was not reset: $first"
    line="linksim: conn 1 aborted after 0 bytes: cannot connect to 127.0.0.1:$SRV_PORT:"
    wait_for grep -qx "$line connection refused" "$T/ls.err" ||
        fail "no log line naming the refused target"
    stop_linksim
}

test_drop_first() {
    start_server sink
    start_linksim --drop-first 1
    first=$(py probe "$LS_PORT")
    second=$(py send "$LS_PORT" 5)
    echo "first: $first; second: $second"
    [ "$first" = reset ] || fail "first connection was not reset: $first"
    case $second in "sent=ok reply=5 "*) ;; *) fail "second connection failed: $second" ;; esac
    wait_for has_line "connections 2" "$T/stats" || fail "stats: $(cat "$T/stats")"
    [ "$(grep -c . "$T/server.log")" -eq 1 ] || fail "the target saw the dropped connection"
    stop_linksim
    grep -q "^linksim: conn 1 dropped" "$T/ls.err" || fail "no drop log line"
}

test_eof_forwarding() {
    start_server sink
    start_linksim --latency-ms 20
    # The server replies only after it sees EOF, and the client reads the reply until EOF:
    # EOF has to cross the link in both directions, after the data.
    out=$(py send "$LS_PORT" 5)
    echo "client: $out"
    case $out in "sent=ok reply=5 "*) ;; *) fail "EOF not forwarded: $out" ;; esac
    has_line "bytes=5 end=eof" "$T/server.log" || fail "server: $(cat "$T/server.log")"
    wait_for grep -q "^linksim: conn 1 closed after 7 bytes (up 5, down 2)$" "$T/ls.err" ||
        fail "linksim did not close the connection after both EOFs"
    stop_linksim
    has_line "connections 1" "$T/stats" || fail "stats: $(cat "$T/stats")"
    has_line "cuts 0" "$T/stats" || fail "stats: $(cat "$T/stats")"
}

test_memory_bounded() {
    # The target never reads: linksim must stop reading the client instead of buffering.
    start_server stall
    start_linksim
    out=$(py flood "$LS_PORT" 1 "$LS_PID")
    echo "flood into a stalled target: $out"
    sent=${out#sent=}
    sent=${sent%% *}
    rss=${out##*rss_kb=}
    [ "$rss" -lt 65536 ] || fail "linksim grew to $rss KiB"
    [ "$sent" -lt $((64 * 1024 * 1024)) ] || fail "linksim accepted $sent bytes from the client"
    stop_linksim
}

test_bad_options() {
    expect_usage() {
        msg=$1
        shift
        rc=0
        timeout 5 "$LINKSIM" "$@" >"$T/out" 2>"$T/err" || rc=$?
        echo "linksim $* -> $rc: $(head -1 "$T/err")"
        [ "$rc" -eq 2 ] || fail "exit status $rc, expected 2"
        grep -qF -- "$msg" "$T/err" || fail "message lacks '$msg'"
    }
    expect_usage "--listen HOST:PORT is required"
    expect_usage "--to HOST:PORT is required" --listen 127.0.0.1:0
    ok_addrs="--listen 127.0.0.1:0 --to 127.0.0.1:9"
    # shellcheck disable=SC2086 # ok_addrs is meant to split into words
    {
        expect_usage "--latency-ms: 'abc' is not a whole number" $ok_addrs --latency-ms abc
        expect_usage "--latency-ms: '-5'" $ok_addrs --latency-ms -5
        expect_usage "--bandwidth: '0'" $ok_addrs --bandwidth 0
        expect_usage "--cut-every: '12k'" $ok_addrs --cut-every 12k
        expect_usage "option '--seed' needs a value" $ok_addrs --seed
        expect_usage "unexpected argument 'extra'" $ok_addrs extra
    }
    expect_usage "--to port: '0'" --listen 127.0.0.1:0 --to 127.0.0.1:0
    expect_usage "--listen: 'nowhere' is not HOST:PORT" --listen nowhere --to 127.0.0.1:9
    expect_usage "--to: 'example.com' is not a numeric IP" --listen 127.0.0.1:0 --to example.com:80
    expect_usage "unknown option '--frobnicate'" --frobnicate
    timeout 5 "$LINKSIM" --help >"$T/out" || fail "--help failed"
    grep -q "^usage: linksim --listen" "$T/out" || fail "--help printed no usage"
}

# --- runner ---------------------------------------------------------------------------

run() {
    name=$1
    case $name in *"$ONLY"*) ;; *) return 0 ;; esac
    T=$TMP/$name
    mkdir -p "$T"
    set +e
    (
        set -e
        trap kill_started EXIT
        "test_$name"
    ) >"$T/log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        sed 's/^/#   /' "$T/log"
        failed=$((failed + 1))
    fi
}

run latency
run bandwidth
run cut_every_exact
run cut_every_fresh_budget
run cut_counts_both_directions
run cut_random_seeded
run drop_first
run target_down
run eof_forwarding
run memory_bounded
run bad_options

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
