# tests/cli/status_http.sh - CLI tests of the hub's status endpoints (`outpost serve --http`,
# node/http.h) with real processes over loopback: a hub and four sites in different states
# (in sync, silent and behind, never synced, certificate expiring), then /status.json,
# /metrics (checked by promtool), the page (read by curl and rendered by headless Chromium),
# bad requests, and slow clients holding connections while a site still syncs. Sourced by
# run.sh, whose helpers it uses (op, ok, has, hasnt, die, new_store, enrolled); needs curl,
# python3 and promtool (scripts/install-deps). Chromium is skipped, saying why, only when it
# cannot run at all. OUTPOST_STATUS_SCREENSHOT=FILE keeps the page's screenshot there (the
# README's docs/status-page.png is made this way).

# hub_bg STORE [ARGS]: `outpost serve` for STORE, sync and status endpoints on free loopback
# ports; sets HUB_PID, HUB_PORT and HTTP_PORT.
hub_bg() {
    _hb=$1
    shift
    rm -f "$T/$_hb.port" "$T/$_hb.http"
    "$OUTPOST" "$@" --store "$_hb" serve --listen 127.0.0.1:0 --port-file "$T/$_hb.port" \
        --http 127.0.0.1:0 --http-port-file "$T/$_hb.http" 2>"$T/$_hb.serve.log" &
    HUB_PID=$!
    _w=0
    while [ ! -s "$T/$_hb.http" ] && [ $_w -lt 100 ]; do sleep 0.1; _w=$((_w + 1)); done
    [ -s "$T/$_hb.http" ] || { cat "$T/$_hb.serve.log"; die "serve did not start"; }
    HUB_PORT=$(cat "$T/$_hb.port")
    HTTP_PORT=$(cat "$T/$_hb.http")
}

hub_stop() { kill "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null || true; }

# get PATH [CURL-ARGS]: fetch http://127.0.0.1:$HTTP_PORT/PATH; body in $T/body, headers in
# $T/headers, status code in $CODE. Fails the test when nothing answers within 5 s.
get() {
    _path=$1
    shift
    CODE=$(curl -s --max-time 5 -D "$T/headers" -o "$T/body" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$HTTP_PORT/$_path") || die "no answer to /$_path: curl exit $?"
}

# states: "NAME=STATE" per node of $T/body (a /status.json), sorted.
states() {
    python3 -c 'import json, sys
for n in json.load(open(sys.argv[1]))["nodes"]:
    print(n["name"] + "=" + n["state"])' "$T/body" | LC_ALL=C sort
}

# wait_states WANT: poll /status.json until states() prints WANT (20 s at most).
wait_states() {
    _w=0
    while [ $_w -lt 40 ]; do
        get status.json
        [ "$CODE" = 200 ] && [ "$(states)" = "$1" ] && return 0
        sleep 0.5
        _w=$((_w + 1))
    done
    states
    die "the states never became: $1"
}

t_help_serve_http() {
    check_help serve
    has "--http ADDR" "$T/out"
    has "--http-port-file" "$T/out"
    has "/metrics" "$T/out"
}

t_status_http_usage() {
    new_store hub Hub
    enrolled_hub hub
    "$OUTPOST" --store hub serve --listen 127.0.0.1:0 --http nonsense >"$T/out" 2>"$T/err"
    [ $? -eq 78 ] || die "a bad --http was not a configuration error"
    has "status address 'nonsense' is not HOST:PORT" "$T/err"
    "$OUTPOST" --store hub serve --listen 127.0.0.1:0 --http localhost:7480 >"$T/out" \
        2>"$T/err"
    [ $? -eq 78 ] || die "a host name for --http was accepted"
    has "needs a numeric IP address" "$T/err"
    "$OUTPOST" --store hub serve --listen 127.0.0.1:0 --http off --http-port-file x \
        >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "--http-port-file without endpoints was not a usage error"
    has "--http-port-file" "$T/err"
    printf '[status]\nhttp = localhost:80\n' >bad.conf
    "$OUTPOST" --config bad.conf --store hub status >"$T/out" 2>"$T/err"
    [ $? -eq 78 ] || die "a bad [status] http was accepted"
    has "bad.conf:2: [status] http: expected a numeric IP:PORT" "$T/err"
    printf '[expect]\nShip = often\n' >bad.conf
    "$OUTPOST" --config bad.conf --store hub status >"$T/out" 2>"$T/err"
    [ $? -eq 78 ] || die "a bad [expect] interval was accepted"
    has "[expect] Ship: expected a duration" "$T/err"
    # A port in use: the second server says which address and why, and stops.
    hub_bg hub
    new_store site Site
    enrolled site
    "$OUTPOST" --store site serve --listen 127.0.0.1:0 --http "127.0.0.1:$HTTP_PORT" \
        >"$T/out" 2>"$T/err"
    _rc=$?
    hub_stop
    [ $_rc -eq 74 ] || { cat "$T/err"; die "a busy status port: exit $_rc, want 74"; }
    has "cannot serve the status endpoints on 127.0.0.1:$HTTP_PORT" "$T/err"
    has "hint: set [status] http" "$T/err"
    has "status endpoints on 127.0.0.1:0 (port $HTTP_PORT)" "$T/hub.serve.log"
    # A site serves them only when asked to.
    "$OUTPOST" --store site serve --listen 127.0.0.1:0 --port-file site.port 2>site.log &
    _pid=$!
    _w=0
    while [ ! -s site.port ] && [ $_w -lt 100 ]; do sleep 0.1; _w=$((_w + 1)); done
    kill $_pid
    wait $_pid
    [ -s site.port ] || die "the site's daemon did not start"
    hasnt "status endpoints" site.log
}

t_status_http() {
    command -v curl >/dev/null || die "curl is needed (scripts/install-deps)"
    command -v promtool >/dev/null || die "promtool is needed (scripts/install-deps)"
    new_store hub "Fleet HQ"
    new_store ship "Ship Alpha"
    new_store camp "Camp <Bravo> & Co"
    new_store relay "Relay Charlie"
    new_store depot "Depot Delta"
    enrolled_hub hub
    enrolled ship camp relay
    # The depot's certificate runs out in 10 days: expiring (the limit is 30 d).
    ok op --store depot enroll request -o "$T/depot.request"
    ok op ca issue --ca "$T/ca" "$T/depot.request" --days 10 -o "$T/depot.cert"
    ok op --store depot enroll install "$T/depot.cert" "$T/ca/ca.cert" --crl "$T/ca/crl"
    # The relay is known to the hub but never calls.
    ok op --store hub trust add-cert "$T/relay.cert"
    # The camp is expected every 3 s; more than 2 commits missing is "behind".
    printf '[status]\nbehind = 2\n[expect]\nCamp <Bravo> & Co = 3s\n' >hub.conf
    hub_bg hub --config hub.conf
    get metrics # someone asks: from now on the hub rebuilds its snapshot every 2 s

    ok op --store camp patient register --family Brown
    ok op --store camp sync --once "127.0.0.1:$HUB_PORT"
    ok op --store depot sync --once "127.0.0.1:$HUB_PORT"
    for f in Adams Baker Clark Dixon Evans; do
        ok op --store ship patient register --family $f
    done
    ok op --store ship sync --once "127.0.0.1:$HUB_PORT"
    ok op --store depot sync --once "127.0.0.1:$HUB_PORT"
    want="Camp <Bravo> & Co=silent
Depot Delta=expiring
Relay Charlie=never-synced
Ship Alpha=in-sync"
    wait_states "$want"

    # /status.json: JSON, what `outpost status --json` says.
    has "Content-Type: application/json" "$T/headers"
    has '"behind":5' "$T/body"

    # /metrics: promtool accepts it; per-node states and figures.
    get metrics
    [ "$CODE" = 200 ] || die "/metrics: $CODE"
    has "Content-Type: text/plain; version=0.0.4" "$T/headers"
    promtool check metrics <"$T/body" >"$T/promtool.out" 2>&1 || {
        cat "$T/promtool.out"
        die "promtool rejects /metrics"
    }
    [ ! -s "$T/promtool.out" ] || { cat "$T/promtool.out"; die "promtool complains"; }
    _camp='node="Camp <Bravo> & Co",replica="[0-9a-f]{32}"'
    _ship='node="Ship Alpha",replica="[0-9a-f]{32}"'
    line "^outpost_node_state\\{$_camp,state=\"silent\"\\} 1\$" "$T/body"
    line "^outpost_node_alert\\{$_camp,alert=\"behind\"\\} 1\$" "$T/body"
    line "^outpost_node_state\\{$_ship,state=\"in-sync\"\\} 1\$" "$T/body"
    line "^outpost_node_behind_commits\\{$_camp\\} 5\$" "$T/body"
    line '^outpost_nodes\{state="never-synced"\} 1$' "$T/body"
    line '^outpost_held_commits 6$' "$T/body"

    # The page: every node with its state as a word, escaped, no way off the machine.
    get ""
    [ "$CODE" = 200 ] || die "/: $CODE"
    has "Content-Type: text/html; charset=utf-8" "$T/headers"
    has '<meta http-equiv="refresh" content="10">' "$T/body"
    has "Camp &lt;Bravo&gt; &amp; Co" "$T/body"
    for s in silent expiring never-synced in-sync; do has ">$s</span>" "$T/body"; done
    hasnt "http://" "$T/body"
    hasnt "https://" "$T/body"
    get "" -I # curl writes the head where the body would go: nothing else may follow
    [ "$CODE" = 200 ] || die "HEAD /: $CODE"
    has "Content-Length: " "$T/headers"
    cmp -s "$T/headers" "$T/body" || die "HEAD / sent a body"

    # Bad requests.
    get nowhere
    [ "$CODE" = 404 ] || die "/nowhere: $CODE"
    get metrics -X POST -d x=1
    [ "$CODE" = 405 ] || die "POST /metrics: $CODE"
    has "Allow: GET, HEAD" "$T/headers"
    get "$(head -c 100000 /dev/zero | tr '\0' a)"
    [ "$CODE" = 414 ] || die "a 100 KB URL: $CODE"

    # Slow clients: five connections with half a request, one that asks for the page and
    # never reads. Meanwhile a site syncs and the endpoints answer.
    _slow=""
    for _i in 1 2 3 4 5; do
        bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET /metr" >&3; sleep 30' _ \
            "$HTTP_PORT" &
        _slow="$_slow $!"
    done
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET / HTTP/1.1\r\nHost: x\r\n\r\n" >&3
        sleep 30' _ "$HTTP_PORT" &
    _slow="$_slow $!"
    sleep 0.5
    ok op --store ship patient register --family Foster
    _t0=$(date +%s)
    ok timeout 20 "$OUTPOST" --store ship sync --once "127.0.0.1:$HUB_PORT"
    get status.json
    [ "$CODE" = 200 ] || die "/status.json with slow clients: $CODE"
    _w=0
    while ! grep -q '^outpost_held_commits 7$' "$T/body" && [ $_w -lt 20 ]; do
        sleep 0.5
        get metrics
        _w=$((_w + 1))
    done
    line '^outpost_held_commits 7$' "$T/body"
    _t=$(($(date +%s) - _t0))
    [ $_t -le 8 ] || die "the sync and the answers took ${_t}s with slow clients holding on"
    # shellcheck disable=SC2086
    kill $_slow 2>/dev/null
    # shellcheck disable=SC2086
    wait $_slow 2>/dev/null

    status_page_in_chromium

    hub_stop
    has "status endpoints on 127.0.0.1:0 (port $HTTP_PORT)" "$T/hub.serve.log"
}

# The page as a browser sees it: headless Chromium dumps the DOM (every node's row with
# its state word) and takes the screenshot.
status_page_in_chromium() {
    _chromium=$(command -v chromium || command -v chromium-browser || true)
    _flags="--headless --no-sandbox --disable-gpu --user-data-dir=$T/chromium-profile"
    # shellcheck disable=SC2086
    if [ -z "$_chromium" ] ||
        ! timeout 60 "$_chromium" $_flags --dump-dom about:blank >"$T/blank" \
            2>"$T/chromium.err"; then
        echo "skip: headless Chromium cannot run here:" \
            "$(head -n 3 "$T/chromium.err" 2>/dev/null)" >&2
        return 0
    fi
    _url="http://127.0.0.1:$HTTP_PORT/"
    # shellcheck disable=SC2086
    timeout 60 "$_chromium" $_flags --dump-dom "$_url" >"$T/dom.html" 2>>"$T/chromium.err" ||
        { cat "$T/chromium.err"; die "chromium --dump-dom failed"; }
    python3 - "$T/dom.html" >"$T/rows" <<'EOF' || die "cannot read the DOM"
import html.parser, sys
class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.field = [], None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "node":
            self.row = {"state": a.get("data-state"), "name": "", "badge": ""}
            self.rows.append(self.row)
        elif self.row is not None and tag == "span" and a.get("class") == "name":
            self.field = "name"
        elif self.row is not None and tag == "span" and "badge" in (a.get("class") or ""):
            self.field = "badge"
    def handle_endtag(self, tag):
        if tag == "span":
            self.field = None
        elif tag == "tr":
            self.row = None
    def handle_data(self, data):
        if self.row is not None and self.field is not None:
            self.row[self.field] += data
p = Rows()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for r in p.rows:
    print("%s=%s=%s" % (r["name"], r["state"], r["badge"]))
EOF
    _want="Camp <Bravo> & Co=silent=silent
Depot Delta=expiring=expiring
Relay Charlie=never-synced=never-synced
Ship Alpha=in-sync=in-sync"
    [ "$(LC_ALL=C sort "$T/rows")" = "$_want" ] ||
        { cat "$T/rows"; die "the rendered page shows other rows"; }
    # shellcheck disable=SC2086
    timeout 60 "$_chromium" $_flags --hide-scrollbars --window-size=1200,800 \
        --screenshot="$T/status-page.png" "$_url" >/dev/null 2>>"$T/chromium.err" ||
        { cat "$T/chromium.err"; die "chromium --screenshot failed"; }
    [ -s "$T/status-page.png" ] || die "no screenshot"
    [ "$(head -c 8 "$T/status-page.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        die "the screenshot is not a PNG"
    if [ -n "${OUTPOST_STATUS_SCREENSHOT:-}" ]; then
        cp "$T/status-page.png" "$OUTPOST_STATUS_SCREENSHOT" || die "cannot keep the screenshot"
    fi
}
