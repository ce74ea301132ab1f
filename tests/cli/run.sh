#!/bin/sh
# tests/cli/run.sh - tests of the `outpost` command: --help everywhere, golden output of
# the record commands, two stores exchanging log files and resolving a conflict, and bad
# input that must fail with `error:` and leave the store unchanged.
#
#   OUTPOST=build/debug/outpost tests/cli/run.sh [TEST-NAME-PATTERN]
#   UPDATE_GOLDEN=1 ...   rewrite tests/cli/golden/ from the current output (review the diff)
#
# Each test runs in a subshell in its own temporary directory, with its own stores.
# Prints `ok - NAME` / `not ok - NAME` (with the test's log) and `N passed, M failed`.
set -u

: "${OUTPOST:?set OUTPOST to the outpost binary}"
case $OUTPOST in /*) ;; *) OUTPOST=$(pwd)/$OUTPOST ;; esac
[ -x "$OUTPOST" ] || { echo "run.sh: $OUTPOST is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/golden
ONLY=${1:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/outpost-cli.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
unset OUTPOST_STORE
passed=0
failed=0

# --- helpers (used inside tests; `die` ends the test's subshell) ----------------------

die() { echo "FAIL: $*"; exit 1; }

# op ARGS: the command under test, with a fixed author so output is stable.
op() { "$OUTPOST" --author tester "$@"; }

# ok CMD...: run, keep stdout in $T/out and stderr in $T/err, fail the test on non-zero.
ok() {
    "$@" >"$T/out" 2>"$T/err" || {
        _rc=$?
        cat "$T/err"
        die "exit $_rc: $*"
    }
}

# okv VAR CMD...: like ok, and store the first line of stdout in VAR.
okv() {
    _var=$1
    shift
    ok "$@"
    eval "$_var=\$(head -n 1 \"\$T/out\")"
}

# has TEXT FILE: FILE contains the fixed string TEXT.
has() { grep -qF -- "$1" "$2" || { cat "$2"; die "'$1' not found in $2"; }; }
hasnt() { ! grep -qF -- "$1" "$2" || { cat "$2"; die "'$1' unexpectedly in $2"; }; }
# line REGEX FILE: some line of FILE matches the extended regular expression.
line() { grep -Eq -- "$1" "$2" || { cat "$2"; die "no line matching '$1' in $2"; }; }

# norm: make output comparable with a golden file (ids, origins and clock times vary).
norm() {
    sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\/[0-9]+/<HLC>/g' \
        -e 's/[0-9a-f]{32}/<ID>/g' -e 's/origin [0-9a-f]{8}\//origin <ORIGIN>\//g'
}

# golden NAME: compare normalised stdin with tests/cli/golden/NAME.
golden() {
    norm >"$T/golden.$1"
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
        cp "$T/golden.$1" "$GOLDEN/$1"
    fi
    [ -f "$GOLDEN/$1" ] || die "missing golden file $GOLDEN/$1 (run with UPDATE_GOLDEN=1)"
    diff -u "$GOLDEN/$1" "$T/golden.$1" || die "output differs from golden $1"
}

# snap STORE: commit count and digest, to show a store was left unchanged.
snap() {
    _c=$("$OUTPOST" --store "$1" --json status | sed -n 's/.*"commits":\([0-9]*\).*/\1/p')
    _d=$("$OUTPOST" --store "$1" digest)
    echo "$_c $_d"
}

# refused STATUS STORE CMD...: CMD must exit with STATUS (any non-zero when STATUS is -),
# print `error:` on stderr, and leave STORE as it was.
refused() {
    _want=$1
    _store=$2
    shift 2
    _before=$(snap "$_store")
    "$@" >"$T/out" 2>"$T/err"
    _rc=$?
    [ "$_rc" -ne 0 ] || die "succeeded but should fail: $*"
    [ "$_want" = - ] || [ "$_rc" -eq "$_want" ] || { cat "$T/err"; die "exit $_rc, want $_want: $*"; }
    grep -q '^error: ' "$T/err" || { cat "$T/err"; die "no 'error:' line from: $*"; }
    ! grep -Eq 'Sanitizer|runtime error:' "$T/err" || { cat "$T/err"; die "sanitizer: $*"; }
    [ ! -s "$T/out" ] || { cat "$T/out"; die "a failed command printed to stdout: $*"; }
    _after=$(snap "$_store")
    [ "$_before" = "$_after" ] || die "store changed ($_before -> $_after) by: $*"
}

# new_store DIR NAME: a fresh store.
new_store() { ok op --store "$1" init --name "$2"; }

# send FROM TO: carry what TO lacks from FROM, using TO's vector file; $T/out has the
# import's counts.
send() {
    ok op --store "$2" vector -o "$T/peer.vec"
    ok op --store "$1" log export --peer-vector "$T/peer.vec" -o "$T/carry.log"
    ok op --store "$2" log import "$T/carry.log"
}

random_id() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

# A patient, in store $1; prints nothing, sets PID.
add_patient() {
    okv PID op --store "$1" add patient --family Smith --given Jane --birth-date 1990-04-12 \
        --gender female
}

# run NAME FUNCTION: one test in its own directory.
run() {
    case $1 in *"$ONLY"*) ;; *) return 0 ;; esac
    T=$TMP/$1
    mkdir -p "$T"
    if (cd "$T" && "$2") >"$T/log" 2>&1; then
        passed=$((passed + 1))
        echo "ok - $1"
    else
        failed=$((failed + 1))
        echo "not ok - $1"
        sed 's/^/# /' "$T/log"
    fi
}

# --- help -------------------------------------------------------------------------------

help_words="init|add|add_patient|set|retract|show|list|conflicts|conflicts_list|conflicts_show|\
conflicts_resolve|log|log_export|log_import|vector|digest|status"

check_help() { # check_help WORDS...: --help and -h print usage to stdout and succeed
    for h in --help -h; do
        ok op "$@" $h
        has "usage: outpost" "$T/out"
        [ ! -s "$T/err" ] || die "stderr not empty for: $* $h"
    done
}

t_help_global() {
    check_help
    has "conflicts" "$T/out"
    ok op help
    has "usage: outpost" "$T/out"
    ok op help log export
    has "usage: outpost log export" "$T/out"
}
t_help_init() { check_help init; }
t_help_add() { check_help add; has "patient" "$T/out"; }
t_help_add_patient() {
    check_help add patient
    has "--birth-date" "$T/out"
    has "date, mv (conflicts reviewed)" "$T/out"
    has "one of: male female other unknown" "$T/out"
    has "required" "$T/out"
    ok op add encounter --help
    has "the id of a patient row" "$T/out"
}
t_help_set() { check_help set; }
t_help_retract() { check_help retract; }
t_help_show() { check_help show; }
t_help_list() { check_help list; }
t_help_conflicts() { check_help conflicts; has "resolve" "$T/out"; }
t_help_conflicts_list() { check_help conflicts list; }
t_help_conflicts_show() { check_help conflicts show; }
t_help_conflicts_resolve() { check_help conflicts resolve; }
t_help_log() { check_help log; has "export" "$T/out"; }
t_help_log_export() { check_help log export; has "--peer-vector" "$T/out"; }
t_help_log_import() { check_help log import; }
t_help_vector() { check_help vector; }
t_help_digest() { check_help digest; }
t_help_status() { check_help status; }

# --- store selection and init -----------------------------------------------------------

t_init() {
    ok op --store "$T/s" init --name "HMS Example"
    line '^created store /.*/s$' "$T/out"
    grep -Eq '^origin  [0-9a-f]{32}/1$' "$T/out" || die "no origin line"
    ok op --store "$T/s" status
    has "HMS Example" "$T/out"
    has "commits    0" "$T/out"
    ok op --store "$T/s" --json status
    has '"name":"HMS Example"' "$T/out"
    has '"commits":0' "$T/out"
    refused - "$T/s" op --store "$T/s" init --name again
    refused 64 "$T/s" op --store "$T/s" init
}

t_store_selection() {
    ok op init --name default
    [ -d outpost-data ] || die "no ./outpost-data"
    ok env OUTPOST_STORE="$T/env" "$OUTPOST" init --name env
    [ -d env ] || die "OUTPOST_STORE not used"
    ok env OUTPOST_STORE="$T/env" "$OUTPOST" --store "$T/flag" init --name flag
    [ -d flag ] || die "--store does not win over OUTPOST_STORE"
    ok env OUTPOST_STORE="$T/env" "$OUTPOST" status
    has "name       env" "$T/out"
    refused 66 "$T/env" op --store "$T/nothing" status
    has "hint: " "$T/err"
}

# --- records ------------------------------------------------------------------------------

t_add_show_patient() {
    new_store s Site
    add_patient s
    echo "$PID" | grep -Eq '^[0-9a-f]{32}$' || die "add printed '$PID', not an id"
    ok op --store s show patient "$PID"
    golden show_patient.txt <"$T/out"
    ok op --store s --json show patient "$PID"
    golden show_patient.json <"$T/out"
    ok op --store s --json add patient --family Jones
    grep -Eq '^\{"id":"[0-9a-f]{32}"\}$' "$T/out" || die "add --json: $(cat "$T/out")"
    # --birth_date is --birth-date; dashed ids are accepted too.
    ok op --store s add patient --family Brown --birth_date 1970-01-31
    dashed=$(echo "$PID" | sed -E 's/^(.{8})(.{4})(.{4})(.{4})/\1-\2-\3-\4-/')
    ok op --store s show patient "$dashed"
}

t_add_show_encounter() {
    new_store s Site
    add_patient s
    okv EID op --store s add encounter --patient-id "$PID" --start 2024-03-01T09:30Z \
        --status in-progress --class FLD --location "Sick bay"
    ok op --store s show encounter "$EID"
    golden show_encounter.txt <"$T/out"
    # The wrong table: the hint names the right one.
    refused 66 s op --store s show patient "$EID"
    has "hint: $EID is a row of table 'encounter'" "$T/err"
}

t_add_show_allergy() {
    new_store s Site
    add_patient s
    okv AID op --store s add allergy --patient-id "$PID" --code 91936005 \
        --display "Penicillin allergy" --category medication --criticality high \
        --clinical-status active --verification confirmed
    ok op --store s show allergy "$AID"
    golden show_allergy.txt <"$T/out"
}

t_set_show() {
    new_store s Site
    add_patient s
    ok op --store s set patient "$PID" given Janet
    has "set patient $PID given" "$T/out"
    ok op --store s set patient "$PID" address "1 High Street, Portsmouth"
    ok op --store s set patient "$PID" birth-date ""
    ok op --store s show patient "$PID"
    golden show_patient_set.txt <"$T/out"
    ok op --store s --json status
    has '"commits":4' "$T/out"
}

t_retract() {
    new_store s Site
    add_patient s
    okv EID op --store s add encounter --patient-id "$PID" --start 2024-03-01T09:30Z
    okv RID op --store s retract "$EID" --reason "wrong patient"
    ok op --store s show encounter "$EID"
    head -n 1 "$T/out" | grep -q 'RETRACTED$' || die "not shown as RETRACTED"
    ok op --store s show retraction "$RID"
    golden show_retraction.txt <"$T/out"
    line "^  patient_id +$PID\$" "$T/out"
    ok op --store s list encounter
    has "RETRACTED" "$T/out"
    # Retracting the retraction undoes it.
    okv RRID op --store s --json retract "$RID" --reason "it was the right patient"
    echo "$RRID" | grep -q '"table":"retraction"' || die "retract --json: $RRID"
    ok op --store s show encounter "$EID"
    hasnt "RETRACTED" "$T/out"
    ok op --store s show retraction "$RID"
    head -n 1 "$T/out" | grep -q 'RETRACTED$' || die "the retraction is not retracted"
    # A patient can be retracted too; its retraction names the patient itself.
    okv PRID op --store s retract "$PID" --reason duplicate
    ok op --store s --json show retraction "$PRID"
    has "\"patient_id\":{\"value\":\"$PID\"" "$T/out"
}

t_list_filter() {
    new_store s Site
    ok op --store s add patient --family Smith --given Anne
    ok op --store s add patient --family Jones --given Bob
    ok op --store s add patient --family Smith --given Carl
    ok op --store s list patient --family Smith
    # Rows come in id order, which is time order; sort the body so the golden file does
    # not depend on two ids minted in the same millisecond.
    { head -n 1 "$T/out"; tail -n +2 "$T/out" | sort -k2; } >"$T/sorted"
    golden list_patient_smith.txt <"$T/sorted"
    ok op --store s list patient
    [ "$(wc -l <"$T/out")" -eq 4 ] || die "list patient: want header + 3 rows"
    ok op --store s --json list patient --family=Jones
    has '"family":"Jones"' "$T/out"
    hasnt '"family":"Smith"' "$T/out"
    ok op --store s list patient --family Nobody
    [ "$(wc -l <"$T/out")" -eq 1 ] || die "filter on absent value: want only the header"
}

t_json_escaping() {
    new_store s Site
    name=$(printf 'a"b\\c\td\ne Zo\303\253 \001')
    okv PID op --store s add patient --family "$name"
    ok op --store s --json show patient "$PID"
    has '"family":{"value":"a\"b\\c\td\ne Zoë \u0001","conflict":false}' "$T/out"
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" ||
            die "show --json is not valid JSON"
    fi
    ok op --store s show patient "$PID"
    has 'a"b\c\td\ne Zoë \x01' "$T/out"
}

# --- two sites ------------------------------------------------------------------------------

t_exchange() {
    new_store a "Site A"
    new_store b "Site B"
    add_patient a
    PA=$PID
    okv PB op --store b add patient --family Brown
    send a b
    has "stored      1" "$T/out"
    send b a
    has "stored      1" "$T/out"
    ok op --store b show patient "$PA"
    has "Smith" "$T/out"
    ok op --store a show patient "$PB"
    has "Brown" "$T/out"
    [ "$(op --store a digest)" = "$(op --store b digest)" ] || die "digests differ"
    op --store a digest | grep -Eq '^[0-9a-f]{32}$' || die "digest is not 32 hex digits"
    # Nothing is missing now: the vector file makes the next export empty.
    ok op --store b vector -o "$T/b.vec"
    ok op --store a log export --peer-vector "$T/b.vec" -o "$T/none.log"
    has "exported 0 commits" "$T/out"
    # The same file twice is harmless.
    ok op --store a log export -o "$T/all.log"
    ok op --store b log import "$T/all.log"
    has "duplicates  2" "$T/out"
    ok op --store b --json log import "$T/all.log"
    has '"stored":0' "$T/out"
    ok op --store a vector
    [ "$(grep -c '^[0-9a-f]\{32\} 1 1$' "$T/out")" -eq 2 ] || die "vector: $(cat "$T/out")"
}

t_conflict() {
    new_store a "Site A"
    new_store b "Site B"
    add_patient a
    send a b
    ok op --store a set patient "$PID" family Smyth
    ok op --store b set patient "$PID" family Smithe
    send a b
    send b a
    for s in a b; do
        ok op --store $s conflicts list
        has "patient  $PID  family  2" "$T/out"
        ok op --store $s --json status
        has '"conflicts":1' "$T/out"
        ok op --store $s show patient "$PID"
        has "CONFLICT" "$T/out"
        cp "$T/out" "$T/show.$s"
        ok op --store $s conflicts show patient "$PID" family
        has "- Smyth" "$T/out"
        has "- Smithe" "$T/out"
    done
    diff -u "$T/show.a" "$T/show.b" || die "the two sites show the conflict differently"
    if command -v python3 >/dev/null 2>&1; then
        for args in "show patient $PID" "conflicts list" "conflicts show patient $PID family" \
            "status" "list patient" "vector"; do
            # shellcheck disable=SC2086 # args is a list of words
            ok op --store a --json $args
            python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" ||
                die "not valid JSON: $args"
        done
    fi
    ok op --store b --json show patient "$PID"
    has '"family":{"value":' "$T/out"
    has '"conflict":true,"siblings":[{"value":' "$T/out"
    [ "$(op --store a digest)" = "$(op --store b digest)" ] || die "digests differ"
    ok op --store a conflicts resolve patient "$PID" family Smith
    refused 65 a op --store a conflicts resolve patient "$PID" family Smith
    send a b
    send b a
    for s in a b; do
        ok op --store $s conflicts list
        has "no open conflicts" "$T/out"
        ok op --store $s --json conflicts list
        has "[]" "$T/out"
        ok op --store $s show patient "$PID"
        hasnt "CONFLICT" "$T/out"
        line '^  family +Smith$' "$T/out"
    done
    [ "$(op --store a digest)" = "$(op --store b digest)" ] || die "digests differ"
}

# A set that arrives before the insert of its row: the row is shown, marked as waiting for
# its insert, and completed when the insert arrives.
t_pending_insert() {
    new_store a "Site A"
    new_store b "Site B"
    new_store c "Site C"
    add_patient a
    send a b
    ok op --store b set patient "$PID" given Janet
    # Only B's own commit goes to C: export against A's vector (A holds A's commits).
    ok op --store a vector -o "$T/a.vec"
    ok op --store b log export --peer-vector "$T/a.vec" -o "$T/b-only.log"
    has "exported 1 commit to" "$T/out"
    ok op --store c log import "$T/b-only.log"
    ok op --store c show patient "$PID"
    line '^  inserted +\(insert not yet received\)$' "$T/out"
    line '^  given +Janet$' "$T/out"
    ok op --store c list patient
    has "PENDING" "$T/out"
    ok op --store c --json show patient "$PID"
    has '"inserted":false' "$T/out"
    send a c
    ok op --store c show patient "$PID"
    line '^  inserted +yes$' "$T/out"
    line '^  family +Smith$' "$T/out"
    [ "$(op --store b digest)" = "$(op --store c digest)" ] || die "digests differ"
}

# --- bad input ------------------------------------------------------------------------------

# A store holding one patient (PID) and one encounter (EID).
bad_setup() {
    new_store s Site
    add_patient s
    okv EID op --store s add encounter --patient-id "$PID" --start 2024-03-01T09:30Z
}

t_bad_usage() {
    bad_setup
    refused 64 s op --store s frobnicate
    refused 64 s op --store s --frob status
    refused 64 s op --store s status --frob
    refused 64 s op --store s add patient --family Smith --frob x
    refused 64 s op --store s add nosuchtable --x y
    refused 64 s op --store s add patient --family
    refused 64 s op --store s add patient --family Smith --family Jones
    refused 64 s op --store s log export --nope -o x.log
    refused 64 s op --store s log export
    refused 64 s op --store s log frob
    refused 64 s op --store s conflicts
    refused 64 s op --store s set patient "$PID" family
    refused 64 s op --store s retract "$EID"
    refused 64 s op --store s show patient
    refused 64 s op --store s list
    refused 64 s op --store s
}

t_bad_missing_required() { bad_setup; refused 65 s op --store s add patient --given Jane; }
t_bad_date() {
    bad_setup
    refused 65 s op --store s add patient --family Smith --birth-date 1990-02-30
    has "1990-02-30" "$T/err"
}
t_bad_code() {
    bad_setup
    refused 65 s op --store s add patient --family Smith --gender x
    has "female" "$T/err"
}
t_bad_unknown_patient() {
    bad_setup
    refused - s op --store s add encounter --patient-id "$(random_id)" --start 2024-03-01T09:30Z
}
t_bad_set_fixed() {
    bad_setup
    refused 65 s op --store s set encounter "$EID" patient_id "$PID"
    has "fixed" "$T/err"
}
t_bad_set_unknown_row() { bad_setup; refused - s op --store s set patient "$(random_id)" family X; }
t_bad_id() { bad_setup; refused 65 s op --store s show patient not-an-id; }

# A log file from another store with two commits, to damage.
bad_log() {
    bad_setup
    new_store other Other
    ok op --store other add patient --family Other
    ok op --store other add patient --family Another
    ok op --store other log export -o "$T/good.log"
    SIZE=$(wc -c <"$T/good.log")
}

t_bad_log_corrupt() {
    bad_log
    cp "$T/good.log" "$T/bad.log"
    mid=$((SIZE / 2))
    byte=$(dd if="$T/bad.log" bs=1 skip=$mid count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    # shellcheck disable=SC2059 # the format is the octal escape of the flipped byte
    printf "\\$(printf %03o $((byte ^ 255)))" |
        dd of="$T/bad.log" bs=1 seek=$mid conv=notrunc 2>/dev/null
    cmp -s "$T/good.log" "$T/bad.log" && die "the byte was not flipped"
    refused - s op --store s log import "$T/bad.log"
    ok op --store s log import "$T/good.log" # the intact file still loads
}
t_bad_log_truncated() {
    bad_log
    dd if="$T/good.log" of="$T/short.log" bs=1 count=$((SIZE - 10)) 2>/dev/null
    refused - s op --store s log import "$T/short.log"
}
t_bad_log_not_a_log() {
    bad_log
    printf 'hello, this is not a log file\n' >"$T/text.log"
    refused - s op --store s log import "$T/text.log"
    ok op --store s vector -o "$T/s.vec"
    refused - s op --store s log import "$T/s.vec"
}
t_bad_log_empty() { bad_log; : >"$T/empty.log"; refused - s op --store s log import "$T/empty.log"; }
t_bad_log_missing() { bad_log; refused - s op --store s log import "$T/no-such.log"; }
t_bad_peer_vector() {
    bad_log
    refused - s op --store s log export --peer-vector "$T/no-such.vec" -o "$T/x.log"
    [ ! -e "$T/x.log" ] || die "export wrote a file despite the error"
}

# --- run ------------------------------------------------------------------------------------

run help_global t_help_global
for w in $(echo "$help_words" | tr '|' ' '); do
    run "help_$w" "t_help_$w"
done
run init t_init
run store_selection t_store_selection
run add_show_patient t_add_show_patient
run add_show_encounter t_add_show_encounter
run add_show_allergy t_add_show_allergy
run set_show t_set_show
run retract t_retract
run list_filter t_list_filter
run json_escaping t_json_escaping
run exchange t_exchange
run conflict t_conflict
run pending_insert t_pending_insert
run bad_usage t_bad_usage
run bad_missing_required t_bad_missing_required
run bad_date t_bad_date
run bad_code t_bad_code
run bad_unknown_patient t_bad_unknown_patient
run bad_set_fixed t_bad_set_fixed
run bad_set_unknown_row t_bad_set_unknown_row
run bad_id t_bad_id
run bad_log_corrupt t_bad_log_corrupt
run bad_log_truncated t_bad_log_truncated
run bad_log_not_a_log t_bad_log_not_a_log
run bad_log_empty t_bad_log_empty
run bad_log_missing t_bad_log_missing
run bad_peer_vector t_bad_peer_vector

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
