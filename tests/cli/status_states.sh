# tests/cli/status_states.sh - a hub and its sites as real processes driven into the states
# the operator must tell apart, each checked in all three views: `outpost status --json`,
# /status.json and /metrics. In sync; never synced (known by certificate only); behind; cut
# mid-sync (through the link simulator: failing); a machine clock 10 minutes fast (run
# under libfaketime: skewed); revoked (the CA's new list given to the hub); equivocating (a
# site rolled back to a snapshot of its disk and state directory, as a VM restore would,
# writing a second history under the same seqs, which it proves to the hub itself once it
# sees the hub's checkpoint for its own seq). Sourced by run.sh after status_http.sh,
# whose helpers it uses (hub_bg, hub_stop, get); needs LINKSIM, faketime and curl.

# view_states: "NAME=STATE" per node, sorted, from the JSON in $T/body (a /status.json, or
# the "sync" part of `outpost status --json`).
view_states() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d = d.get("sync", d)
for n in d["nodes"]:
    print(n["name"] + "=" + n["state"])' "$T/body" | LC_ALL=C sort
}

# metric_states: the same from the /metrics in $T/body.
metric_states() {
    sed -n 's/^outpost_node_state{node="\([^"]*\)",replica="[0-9a-f]*",state="\([^"]*\)"} 1$/\1=\2/p' \
        "$T/body" | LC_ALL=C sort
}

# expect_views WANT: all three views say WANT (the HTTP ones within 20 s: the snapshot is
# rebuilt every 2 s while asked for).
expect_views() {
    "$OUTPOST" --store hub --config hub.conf --json status >"$T/body" 2>"$T/err" ||
        { cat "$T/err"; die "outpost status failed"; }
    [ "$(view_states)" = "$1" ] || { view_states; die "outpost status --json is not: $1"; }
    _w=0
    while :; do
        get status.json
        _json=$(view_states)
        get metrics
        _metrics=$(metric_states)
        [ "$_json" = "$1" ] && [ "$_metrics" = "$1" ] && return 0
        _w=$((_w + 1))
        [ $_w -lt 40 ] || { echo "json: $_json"; echo "metrics: $_metrics"; die "not: $1"; }
        sleep 0.5
    done
}

# sync_once SITE [ENV...]: one session of SITE with the hub, failures allowed.
sync_once() {
    _so=$1
    shift
    env "$@" "$OUTPOST" --store "$_so" sync --once "127.0.0.1:$HUB_PORT" >"$T/out" 2>"$T/err"
}

t_status_states() {
    [ -n "${LINKSIM:-}" ] && [ -x "$LINKSIM" ] || die "set LINKSIM to the link simulator"
    command -v faketime >/dev/null || die "faketime is needed (scripts/install-deps)"
    command -v curl >/dev/null || die "curl is needed (scripts/install-deps)"
    new_store hub Hub
    enrolled_hub hub
    for s in Calm Never Cut Skew Gone Slow; do new_store "$s" "$s"; done
    enrolled Calm Never Cut Skew Gone Slow
    # Twin keeps its instance token in a state directory of its own, to roll it back.
    ok twin_op init --name Twin
    ok twin_op enroll request -o "$T/Twin.request"
    ok op ca issue --ca "$T/ca" "$T/Twin.request" -o "$T/Twin.cert"
    ok twin_op enroll install "$T/Twin.cert" "$T/ca/ca.cert" --crl "$T/ca/crl"
    ok op --store hub trust add-cert "$T/Never.cert"
    printf '[status]\nbehind = 5\n' >hub.conf
    hub_bg hub --config hub.conf
    get metrics
    for f in A B C D E F G H; do ok op --store Calm patient register --family "$f$f$f"; done
    ok op --store Calm sync --once "127.0.0.1:$HUB_PORT"
    for s in Cut Gone Slow; do ok op --store $s sync --once "127.0.0.1:$HUB_PORT"; done
    ok twin_op sync --once "127.0.0.1:$HUB_PORT"
    expect_views "Calm=in-sync
Cut=in-sync
Gone=in-sync
Never=never-synced
Slow=in-sync
Twin=in-sync"

    # Behind: the hub now holds 6 commits of Calm's that Slow lacks (the limit is 5).
    for f in I J K L M N; do ok op --store Calm patient register --family "$f$f$f"; done
    ok op --store Calm sync --once "127.0.0.1:$HUB_PORT"

    # Cut: Cut's next session goes through a link that is reset after 1,500 bytes, in the
    # middle of what the hub sends it.
    rm -f "$T/linksim.port"
    "$LINKSIM" --listen 127.0.0.1:0 --to "127.0.0.1:$HUB_PORT" --cut-every 1500 \
        --port-file "$T/linksim.port" 2>"$T/linksim.log" &
    _ls=$!
    _w=0
    while [ ! -s "$T/linksim.port" ] && [ $_w -lt 100 ]; do sleep 0.1; _w=$((_w + 1)); done
    "$OUTPOST" --store Cut sync --once "127.0.0.1:$(cat "$T/linksim.port")" >"$T/out" 2>"$T/err"
    _rc=$?
    kill $_ls
    wait $_ls 2>/dev/null
    [ $_rc -eq 75 ] || { cat "$T/err"; die "a cut session exited $_rc, not 75 (retry later)"; }

    # Skewed: a machine whose clock is 10 minutes fast (the site's own stamps follow the
    # hub's clock; the hub still sees and shows the machine's error).
    sync_once Skew FAKETIME=+10m FAKETIME_DONT_FAKE_MONOTONIC=1 \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        LD_PRELOAD=$(faketime_lib) || { cat "$T/err"; die "the skewed site could not sync"; }

    # Revoked: the CA revokes Gone and the hub takes the new list.
    ok op ca revoke --ca "$T/ca" Gone --last-good-seq 0 --reason retired
    ok op --store hub trust add-crl "$T/ca/crl"

    # Equivocating: Twin's disk and state directory are snapshotted, it writes and syncs;
    # then both are put back and it writes something else under the same seq and syncs.
    cp -a Twin twin.disk
    cp -a "$T/twinstate" twin.state
    ok twin_op patient register --family Original
    ok twin_op sync --once "127.0.0.1:$HUB_PORT"
    rm -rf Twin "$T/twinstate"
    mv twin.disk Twin
    mv twin.state "$T/twinstate"
    ok twin_op patient register --family Other
    twin_op sync --once "127.0.0.1:$HUB_PORT" >"$T/out" 2>"$T/twin.err"
    # Twin's sync meets the hub's checkpoint for its own seq 1: it freezes itself, says so,
    # and sends the hub its history from the start, so the hub holds both and proves it.
    expect_views "Calm=in-sync
Cut=failing
Gone=revoked
Never=never-synced
Skew=skewed
Slow=behind
Twin=equivocating"
    has "sending it ours from the start" "$T/twin.err"
    twin_op --json status >"$T/body" 2>"$T/err"
    has '"self_frozen":true' "$T/body"
    twin_op status >"$T/out" 2>"$T/err"
    has "WARNING    another copy of this node" "$T/out"
    op --store Calm --json status >"$T/body" 2>"$T/err"
    has '"self_frozen":false' "$T/body"
    "$OUTPOST" --store hub quarantine >"$T/out" 2>"$T/err"
    has "signed two histories" "$T/out"
    get status.json
    python3 - "$T/body" <<'EOF' || die "the figures behind the states"
import json, sys
nodes = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
assert nodes["Skew"]["skew_ms"] > 9 * 60 * 1000, nodes["Skew"]
assert nodes["Cut"]["last_error"] != "", nodes["Cut"]
assert nodes["Twin"]["frozen"], nodes["Twin"]
assert nodes["Gone"]["revoked"], nodes["Gone"]
assert nodes["Slow"]["digest"] == "match", nodes["Slow"]
assert nodes["Never"]["last_seen_ms"] == 0, nodes["Never"]
assert nodes["Slow"]["behind"] == 7, nodes["Slow"]  # Calm's 6 and Twin's first
EOF
    # Most urgent first in the table an operator reads.
    "$OUTPOST" --store hub --config hub.conf status >"$T/out" 2>"$T/err"
    awk '/^STATE/ {on = 1; next} on && NF {print $1}' "$T/out" >"$T/order"
    [ "$(tr '\n' ' ' <"$T/order")" = "equivocating failing skewed behind revoked never-synced in-sync " ] ||
        { cat "$T/out"; die "the table is not most urgent first"; }
    hub_stop
}

# twin_op ARGS: the command for store Twin, with its own state directory.
twin_op() { env OUTPOST_STATE_DIR="$T/twinstate" "$OUTPOST" --store Twin "$@"; }

# faketime_lib: the libfaketime preload library Debian's faketime package installs.
faketime_lib() {
    for _f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
        [ -e "$_f" ] && { echo "$_f"; return; }
    done
    echo libfaketime.so.1
}
