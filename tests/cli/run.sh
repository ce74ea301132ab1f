#!/bin/sh
# tests/cli/run.sh - tests of the `outpost` command: --help everywhere, golden output of
# the record commands and of a patient's whole record, users and authorship, the
# configuration file, the NHS number check, finding and merging patients, history and
# audit, two stores exchanging log files and resolving a conflict, and bad input that must
# fail with `error:` and leave the store unchanged.
#
#   OUTPOST=build/debug/outpost tests/cli/run.sh [TEST-NAME-PATTERN]
#   UPDATE_GOLDEN=1 ...   rewrite tests/cli/golden/ from the current output (review the diff)
#
# The binary must be a test build (debug or asan: SN_TESTABLE), which takes the OS user
# from $OUTPOST_TEST_OS_USER, so the tests can act as several people. Every store is made
# by OS user "tester", who is its first administrator (clinician id "tester").
#
# Each test runs in a subshell in its own temporary directory, with its own stores.
# Prints `ok - NAME` / `not ok - NAME` (with the test's log) and `N passed, M failed`.
set -u

: "${OUTPOST:?set OUTPOST to the outpost binary}"
case $OUTPOST in /*) ;; *) OUTPOST=$(pwd)/$OUTPOST ;; esac
# The link simulator, for the tests of cut sessions (LINKSIM, as for linksim.sh).
case ${LINKSIM:-} in "" | /*) ;; *) LINKSIM=$(pwd)/$LINKSIM ;; esac
[ -x "$OUTPOST" ] || { echo "run.sh: $OUTPOST is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/golden
ONLY=${1:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/outpost-cli.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
unset OUTPOST_STORE
# The machine's own configuration must not leak in: an empty file stands for "none".
: >"$TMP/empty.conf"
export OUTPOST_CONFIG="$TMP/empty.conf"
# Instance tokens (clone and restore detection) stay out of the user's state directory.
export OUTPOST_STATE_DIR="$TMP/state"
export OUTPOST_TEST_OS_USER=tester
passed=0
failed=0

# A release build ignores OUTPOST_TEST_OS_USER; these tests cannot run against it.
if ! OUTPOST_TEST_OS_USER=probe-user "$OUTPOST" --store "$TMP/probe" init --name probe \
    2>/dev/null | grep -q 'OS user probe-user'; then
    echo "run.sh: $OUTPOST does not honour OUTPOST_TEST_OS_USER; use a debug or asan build" >&2
    exit 2
fi

# --- helpers (used inside tests; `die` ends the test's subshell) ----------------------

die() { echo "FAIL: $*"; exit 1; }

# op ARGS: the command under test, run by OS user "tester" (the stores' administrator).
op() { "$OUTPOST" "$@"; }

# as_os LOGIN ARGS: the command run by another OS user.
as_os() {
    _login=$1
    shift
    OUTPOST_TEST_OS_USER=$_login "$OUTPOST" "$@"
}

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
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/<TIME>/g' \
        -e 's/[0-9a-f]{32}/<ID>/g' -e 's/origin [0-9a-f]{8}\//origin <ORIGIN>\//g' \
        -e 's/site [0-9a-f]{8}\/[0-9]+/site <SITE>/g'
}

# sort_siblings: sort each run of conflict value lines ("    - VALUE  (origin ...)"), which
# come in the order of the sites' random replica ids.
sort_siblings() {
    awk 'function flush(i, j, t) {
             for (i = 1; i < n; i++)
                 for (j = i; j > 0 && buf[j - 1] > buf[j]; j--) {
                     t = buf[j]; buf[j] = buf[j - 1]; buf[j - 1] = t
                 }
             for (i = 0; i < n; i++) print buf[i]
             n = 0
         }
         /^ +- .*  \(origin [0-9a-f]+\/[0-9]+ seq [0-9]+\)$/ { buf[n++] = $0; next }
         { flush(); print }
         END { flush() }'
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

# enrolled DIR...: enrol each store (made by new_store) with the test's CA, once; log files
# carry signed commits, so both ends of an exchange must be enrolled.
enrolled() {
    for _en in "$@"; do
        _mark="$T/enrolled-$(basename "$_en")"
        [ -e "$_mark" ] || { enroll_store "$_en" && : >"$_mark"; }
    done
}

# send FROM TO: carry what TO lacks from FROM, using TO's vector file; $T/out has the
# import's counts.
send() {
    enrolled "$1" "$2"
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
conflicts_resolve|log|log_export|log_import|vector|digest|status|user|user_add|user_list|\
user_disable|patient|patient_register|patient_find|patient_show|patient_update|\
patient_duplicates|patient_merge|patient_unmerge|encounter|encounter_add|note|note_add|allergy|\
allergy_add|condition|condition_add|observation|observation_add|audit|history|\
ca|ca_init|ca_issue|ca_revoke|ca_list|ca_show|enroll|enroll_request|enroll_install|trust|\
trust_show|trust_add_crl|trust_add_cert|quarantine|serve|sync"

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
t_help_quarantine() { check_help quarantine; has "equivocation" "$T/out"; }
t_help_user() { check_help user; has "disable" "$T/out"; }
t_help_user_add() { check_help user add; has "--os-user" "$T/out"; }
t_help_user_list() { check_help user list; }
t_help_user_disable() { check_help user disable; }
t_help_patient() { check_help patient; has "unmerge" "$T/out"; }
t_help_patient_register() {
    check_help patient register
    has "--nhs-number" "$T/out"
    has "--nhs-status" "$T/out"
    has "--identifier SYSTEM=VALUE" "$T/out"
    hasnt "--nhs-number-status" "$T/out"
}
t_help_patient_find() { check_help patient find; has "--identifier" "$T/out"; }
t_help_patient_show() { check_help patient show; has "ALLERGIES" "$T/out"; }
t_help_patient_update() { check_help patient update; }
t_help_patient_duplicates() { check_help patient duplicates; }
t_help_patient_merge() { check_help patient merge; }
t_help_patient_unmerge() { check_help patient unmerge; }
t_help_encounter() { check_help encounter; has "add" "$T/out"; }
t_help_encounter_add() { check_help encounter add; has "--start" "$T/out"; hasnt "--patient-id" "$T/out"; }
t_help_note() { check_help note; }
t_help_note_add() { check_help note add; has "one of: history examination" "$T/out"; }
t_help_allergy() { check_help allergy; }
t_help_allergy_add() { check_help allergy add; has "--reaction " "$T/out"; has "--criticality" "$T/out"; }
t_help_condition() { check_help condition; }
t_help_condition_add() { check_help condition add; has "--clinical-status" "$T/out"; }
t_help_observation() { check_help observation; }
t_help_observation_add() {
    check_help observation add
    has "--value " "$T/out"
    has "--encounter " "$T/out"
    has "--value-text" "$T/out"
}
t_help_audit() { check_help audit; has "--verify" "$T/out"; }
t_help_history() { check_help log --patient x; has "usage: outpost log [--patient ID]" "$T/out"; }

# --- store selection and init -----------------------------------------------------------

# A bad first administrator is refused before anything is made: no half-made store.
t_init_bad_admin() {
    op --store "$T/s" init --name Site --admin-id 'bad id' >"$T/out" 2>"$T/err" && die "init succeeded"
    has "user id 'bad id' may hold only letters" "$T/err"
    [ ! -e "$T/s" ] || die "init left '$T/s' behind"
    ok op --store "$T/s" init --name Site --admin-id good.admin
    has "admin   good.admin" "$T/out"
}

t_init() {
    ok op --store "$T/s" init --name "HMS Example"
    line '^created store /.*/s$' "$T/out"
    grep -Eq '^origin  [0-9a-f]{32}/1$' "$T/out" || die "no origin line"
    has "admin   tester (OS user tester)" "$T/out"
    ok op --store "$T/s" user list
    line '^tester +tester +admin +tester +enabled$' "$T/out"
    ok op --store "$T/s2" init --name Two --admin-id dr.hughes --admin-name "Surg Lt Hughes"
    ok op --store "$T/s2" --json user list
    has '"id":"dr.hughes","name":"Surg Lt Hughes","role":"admin","os_user":"tester"' "$T/out"
    refused 64 "$T/s" op --store "$T/s3" --as x init --name Three
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
    line '^stored +1$' "$T/out"
    send b a
    line '^stored +1$' "$T/out"
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
    line '^duplicates +2$' "$T/out"
    line '^stored +0$' "$T/out"
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

# A lost laptop: the CA revokes it with its last good commit; the commits it made after
# are kept but not applied, and listed for review, whichever arrives first.
t_revocation() {
    new_store a "Site A"
    new_store b "Site B"
    new_store c "Site C"
    enrolled a b c
    add_patient a
    ok op --store a add patient --family Lost --birth-date 1991-01-01 --gender male
    ok op --store a add patient --family Later --birth-date 1992-02-02 --gender female
    ok op ca revoke "Site A" --ca ca --last-good-seq 1 --reason lost
    ok op --store b trust add-crl ca/crl
    send a b
    line '^quarantined +2$' "$T/out"
    ok op --store b quarantine
    line '^[0-9a-f]{32}/1  commits 2\.\.3  revoked certificate$' "$T/out"
    ok op --store b --json status
    has '"quarantined":2' "$T/out"
    ok op --store b list patient
    hasnt "Lost" "$T/out"
    # C takes the commits first, the list later: the same records in the end.
    send a c
    ok op --store c list patient
    has "Lost" "$T/out"
    ok op --store c trust add-crl ca/crl
    ok op --store c list patient
    hasnt "Lost" "$T/out"
    [ "$(op --store b digest)" = "$(op --store c digest)" ] || die "digests differ"
    ok op --store a quarantine
    has "nothing quarantined" "$T/out"
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
    enrolled c
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
    enrolled s other
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

# --- users and authorship -------------------------------------------------------------------

# A store with administrator tester and clinician dr.jones (OS user jones).
users_setup() {
    new_store s Site
    ok op --store s user add --id dr.jones --name "Dr Ann Jones" --role clinician --os-user jones
}

t_users() {
    users_setup
    has "added user dr.jones" "$T/out"
    ok op --store s user list
    line '^dr\.jones +Dr Ann Jones +clinician +jones +enabled$' "$T/out"
    line '^tester +tester +admin +tester +enabled$' "$T/out"
    ok op --store s --json user list
    has '{"id":"dr.jones","name":"Dr Ann Jones","role":"clinician","os_user":"jones","enabled":true}' "$T/out"
    # The clinician records under their own id.
    okv PID as_os jones --store s patient register --family Smith
    ok op --store s show patient "$PID"
    line '^  author +dr\.jones$' "$T/out"
    # Only administrators manage users.
    refused 77 s as_os jones --store s user add --id x --name X --os-user x
    has "only an administrator may add users" "$T/err"
    refused 77 s as_os jones --store s user list
    refused 77 s as_os jones --store s user disable tester
    # Bad users.
    refused 65 s op --store s user add --id dr.jones --name Again --os-user other
    has "already exists" "$T/err"
    refused 65 s op --store s user add --id dr.other --name Other --os-user jones
    has "already mapped" "$T/err"
    refused 65 s op --store s user add --id dr.x --name X --role boss --os-user x
    refused 65 s op --store s user add --id "bad id" --name X --os-user x
    refused 64 s op --store s user add --id dr.x --name X
    refused 66 s op --store s user disable nobody
    # The last administrator stays.
    refused 65 s op --store s user disable tester
    has "last enabled administrator" "$T/err"
    # A disabled clinician can no longer record or read.
    ok op --store s user disable dr.jones
    has "disabled user dr.jones" "$T/out"
    refused 77 s as_os jones --store s patient register --family Brown
    refused 77 s as_os jones --store s patient show "$PID"
    ok op --store s user list
    line '^dr\.jones .* disabled$' "$T/out"
    # A second administrator lets the first be disabled.
    ok op --store s user add --id boss --name Boss --role admin --os-user boss
    ok as_os boss --store s user disable tester
    refused 77 s op --store s patient register --family Brown
    ok op --store s status # the store itself is no secret
    ok as_os boss --store s audit
    has "user add dr.jones (clinician, OS user jones)" "$T/out"
    has "user disable tester" "$T/out"
}

t_unmapped_user() {
    users_setup
    okv PID op --store s patient register --family Smith
    for cmd in "patient register --family Stranger" "add patient --family Stranger" \
        "set patient $PID family Stranger" "retract $PID --reason x" \
        "allergy add $PID --code 91936005"; do
        # shellcheck disable=SC2086 # cmd is a list of words
        refused 77 s as_os stranger --store s $cmd
        has "OS user 'stranger' is not a clinician on this node" "$T/err"
        has "hint: ask an administrator to run: outpost user add" "$T/err"
        has "--os-user stranger" "$T/err"
    done
    for cmd in "patient show $PID" "show patient $PID" "list patient" "log" "audit" \
        "patient find --name Smith" "conflicts list"; do
        # shellcheck disable=SC2086 # cmd is a list of words
        refused 77 s as_os stranger --store s $cmd
    done
    ok op --store s audit
    hasnt "stranger" "$T/out"
}

t_as() {
    users_setup
    # A clinician may not record as someone else.
    refused 77 s as_os jones --store s --as tester patient register --family Smith
    has "only an administrator may record as another clinician" "$T/err"
    refused 66 s op --store s --as nobody patient register --family Smith
    # An administrator may, and is recorded as the one who entered it.
    okv PID op --store s --as dr.jones patient register --family Smith --given Jane
    ok op --store s show patient "$PID"
    line '^  author +dr\.jones$' "$T/out"
    line '^  entered-by +tester$' "$T/out"
    ok op --store s patient show "$PID"
    norm <"$T/out" >"$T/normal"
    has "recorded <TIME> by dr.jones (entered by tester) at Site" "$T/normal"
    ok op --store s log
    has "by dr.jones (entered by tester)" "$T/out"
    ok op --store s log --user dr.jones
    has "insert patient $PID" "$T/out"
    ok op --store s audit
    has "(entered for dr.jones)" "$T/out"
}

# --- configuration ----------------------------------------------------------------------------

t_config_good() {
    cat >"$T/good.conf" <<CONF
; a site's configuration
[node]
store = $T/from-config
name = Camp North
[clock]
max_skew = 30s
[log]
level = debug
journal = false
CONF
    ok op --config "$T/good.conf" init
    [ -f "$T/from-config/store.db" ] || die "the store is not where the configuration says"
    has "name    Camp North" "$T/out"
    has "outpost: debug: " "$T/err"
    # $OUTPOST_CONFIG is read too; --store still wins over the configuration.
    ok env OUTPOST_CONFIG="$T/good.conf" "$OUTPOST" status
    has "name       Camp North" "$T/out"
    new_store other Other
    ok env OUTPOST_CONFIG="$T/good.conf" "$OUTPOST" --store other status
    has "name       Other" "$T/out"
    # The default level (warn) logs nothing; journal prefixes for systemd.
    ok op --store other status
    [ ! -s "$T/err" ] || die "logging at the default level: $(cat "$T/err")"
    printf '[log]\nlevel = info\njournal = true\n' >"$T/journal.conf"
    okv PID op --config "$T/journal.conf" --store other patient register --family Smith
    line '^<6>audit C by tester' "$T/err"
}

# bad_config NAME CONTENT WANT: CONTENT as a configuration must fail with exit 78 and a
# message holding WANT.
bad_config() {
    printf '%b' "$2" >"$T/$1.conf"
    refused 78 s op --config "$T/$1.conf" --store s patient register --family Smith
    has "error: $T/$1.conf:$3" "$T/err"
}

t_config_bad() {
    new_store s Site
    bad_config unknown '[node]\nname = x\ncolour = blue\n' "3: [node] colour: unknown setting"
    bad_config section '[nodes]\nstore = x\n' "2: [nodes] store: unknown setting"
    bad_config level '[log]\nlevel = loud\n' "2: [log] level: expected error, warn, info or debug"
    bad_config duration '[clock]\nmax_skew = soon\n' "2: [clock] max_skew: expected a positive duration"
    bad_config zero '[clock]\nmax_skew = 0s\n' "2: [clock] max_skew"
    bad_config journal '[log]\njournal = maybe\n' "2: [log] journal: expected true or false"
    bad_config noequals '[node]\nthis line has no equals sign\n' "2: "
    refused 78 s op --config "$T/no-such.conf" --store s status
    has "no-such.conf" "$T/err"
    refused 78 s env OUTPOST_CONFIG="$T/unknown.conf" "$OUTPOST" --store s status
}

# --- the NHS number ----------------------------------------------------------------------------

t_nhs_valid() {
    new_store s Site
    for n in 9434765919 9000000009 4010232137 9876543210 9000000017; do
        okv PID op --store s patient register --family "Valid$n" --nhs-number "$n"
        ok op --store s --json show patient "$PID"
        has "\"nhs_number\":{\"value\":\"$n\"" "$T/out"
        has '"nhs_number_status":{"value":"02"' "$T/out"
    done
    # Spaces and hyphens are allowed and dropped; the status can be given.
    okv PID op --store s patient register --family Spaced --nhs-number "943 476-5919" --nhs-status 01
    ok op --store s patient show "$PID"
    line '^  NHS number +943 476 5919  \(01: verified\)$' "$T/out"
    # Without a number there is no status.
    okv PID op --store s patient register --family NoNumber
    ok op --store s --json show patient "$PID"
    has '"nhs_number_status":{"value":null' "$T/out"
}

t_nhs_invalid() {
    new_store s Site
    for n in 9434765918 9437465919 1234567890 9000000050 9000000051 9000000052 9000000053 \
        9000000054 9000000055 9000000056 9000000057 9000000058 9000000059 12345 94347659199 \
        94347a5919; do
        refused 65 s op --store s patient register --family Smith --nhs-number "$n"
        has "NHS number '$n'" "$T/err"
    done
    refused 65 s op --store s patient register --family Smith --nhs-number 9434765919 --nhs-status 09
    # The generic commands check it too.
    refused 65 s op --store s add patient --family Smith --nhs-number 9434765918
    okv PID op --store s patient register --family Smith
    refused 65 s op --store s set patient "$PID" nhs_number 1234567890
    refused 65 s op --store s patient update "$PID" --nhs-number 9000000050
}

# --- finding, updating, duplicates ---------------------------------------------------------------

find_setup() {
    new_store s Site
    okv P1 op --store s patient register --family Smith --given Jane --birth-date 1990-04-12 \
        --gender female --nhs-number 9434765919 --identifier service=30012345 \
        --identifier prison=A1234BC
    okv P2 op --store s patient register --family Smith --given John --birth-date 1985-01-01 \
        --gender male
    okv P3 op --store s patient register --family Brown --given Jane --birth-date 1990-04-12
}

t_patient_find() {
    find_setup
    ok op --store s patient find --nhs-number "943 476 5919"
    [ "$(grep -c "^$P1 " "$T/out")" -eq 1 ] || die "find by NHS number"
    line '^ID +NAME +BIRTH DATE +GENDER +NHS NUMBER +FLAGS$' "$T/out"
    line "^$P1  Smith, Jane  1990-04-12  female  9434765919\$" "$T/out"
    ok op --store s patient find --name smith
    [ "$(wc -l <"$T/out")" -eq 3 ] || die "find by name: want header + 2"
    ok op --store s patient find --name SMITH --given jane --birth-date 1990-04-12
    [ "$(wc -l <"$T/out")" -eq 2 ] || die "find by name and birth date"
    has "$P1" "$T/out"
    ok op --store s patient find --name Smith --birth-date 1985-01-01
    has "$P2" "$T/out"
    hasnt "$P1" "$T/out"
    ok op --store s patient find --identifier prison=A1234BC
    has "$P1" "$T/out"
    ok op --store s patient find --identifier service=A1234BC
    has "no patient found" "$T/out"
    ok op --store s --json patient find --name Brown
    has "\"id\":\"$P3\",\"family\":\"Brown\",\"given\":\"Jane\"" "$T/out"
    has '"merged_into":null,"possible_duplicate":false' "$T/out"
    # A retracted identifier no longer finds its patient.
    ok op --store s --json list patient_identifier --value A1234BC
    IID=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' "$T/out")
    ok op --store s retract "$IID" --reason "typed on the wrong record"
    ok op --store s patient find --identifier prison=A1234BC
    has "no patient found" "$T/out"
    ok op --store s patient find --nhs-number 9000000009
    has "no patient found" "$T/out"
    refused 64 s op --store s patient find
    refused 64 s op --store s patient find --name Smith --nhs-number 9434765919
    refused 64 s op --store s patient find --given Jane
    refused 65 s op --store s patient find --nhs-number 9434765918
    refused 65 s op --store s patient find --identifier novalue
}

t_patient_update() {
    find_setup
    before=$(snap s | cut -d' ' -f1)
    ok op --store s patient update "$P2" --given Jonathan --address "1 High Street" --postcode "PO1 1AA"
    has "updated given, address, postcode (commit" "$T/out"
    after=$(snap s | cut -d' ' -f1)
    [ "$after" -eq $((before + 1)) ] || die "update made $((after - before)) commits, not 1"
    ok op --store s patient show "$P2"
    line '^  name +Smith, Jonathan$' "$T/out"
    line '^  address +1 High Street, PO1 1AA$' "$T/out"
    # A new NHS number is not traced: status 02; the same number keeps its status.
    ok op --store s patient update "$P2" --nhs-number 9000000009 --nhs-status 01
    ok op --store s patient update "$P2" --nhs-number 9000000009
    ok op --store s --json show patient "$P2"
    has '"nhs_number_status":{"value":"01"' "$T/out"
    ok op --store s patient update "$P2" --nhs-number 9000000017
    ok op --store s --json show patient "$P2"
    has '"nhs_number_status":{"value":"02"' "$T/out"
    ok op --store s patient update "$P2" --phone ""
    refused 64 s op --store s patient update "$P2"
    refused 64 s op --store s patient update "$P2" --colour blue
    refused 65 s op --store s patient update "$P2" --family ""
    refused 65 s op --store s patient update "$P2" --gender x
    refused 65 s op --store s patient update "$P2" --birth-date 1990-02-30
    refused 66 s op --store s patient update "$(random_id)" --given X
    ok op --store s retract "$P3" --reason "registered in error"
    refused 65 s op --store s patient update "$P3" --given X
    has "was retracted" "$T/err"
}

t_merge_unmerge() {
    new_store s Site
    okv A op --store s patient register --family Smith --given Jane --birth-date 1990-04-12 \
        --gender female --nhs-number 9434765919
    okv B op --store s patient register --family SMITH --given J --birth-date 1990-04-12 \
        --gender female
    ok op --store s allergy add "$B" --code 91936005 --display "Penicillin allergy"
    ok op --store s patient duplicates
    line "^$A  $B  60 +same family name, birth date and gender\$" "$T/out"
    ok op --store s --json patient duplicates
    has "{\"a\":\"$A\",\"b\":\"$B\",\"score\":60" "$T/out"
    ok op --store s patient show "$A"
    has "POSSIBLE DUPLICATE of $B: same family name, birth date and gender (score 60)" "$T/out"
    has "allergies recorded there: Penicillin allergy" "$T/out"
    has "no known allergies recorded" "$T/out"
    ok op --store s patient find --name smith
    line "^$A .* DUPLICATE\\?\$" "$T/out"
    okv MERGED op --store s patient merge "$B" "$A" --reason "same person, checked with her"
    has "one patient, shown as $A" "$T/out"
    ok op --store s patient duplicates
    has "no possible duplicates" "$T/out"
    for p in "$A" "$B"; do
        ok op --store s patient show "$p"
        line "^PATIENT $A\$" "$T/out"
        line "^  merged with +$B  SMITH, J, born 1990-04-12\$" "$T/out"
        has "Penicillin allergy (91936005)" "$T/out"
        hasnt "POSSIBLE DUPLICATE" "$T/out"
    done
    ok op --store s patient find --name smith
    line "^$B .*MERGED-INTO $A\$" "$T/out"
    ok op --store s log --patient "$A"
    has "merge patient $B with $A" "$T/out"
    has "insert allergy" "$T/out"
    refused 65 s op --store s patient merge "$A" "$B"
    has "already merged" "$T/err"
    refused 65 s op --store s patient merge "$A" "$A"
    refused 66 s op --store s patient merge "$A" "$(random_id)"
    refused 64 s op --store s patient unmerge "$A" "$B"
    # Unmerge: each record shows its own entries again.
    ok op --store s patient unmerge "$A" "$B" --reason "twins, not one person"
    has "unmerged $A and $B" "$T/out"
    ok op --store s patient show "$B"
    line "^PATIENT $B\$" "$T/out"
    hasnt "merged with" "$T/out"
    has "Penicillin allergy" "$T/out"
    ok op --store s patient show "$A"
    hasnt "Penicillin allergy (" "$T/out"
    has "POSSIBLE DUPLICATE of $B" "$T/out"
    refused 65 s op --store s patient unmerge "$A" "$B" --reason again
    has "no live link joins" "$T/err"
    # Merging again after an unmerge works (links are an add-wins set).
    ok op --store s patient merge "$A" "$B"
    ok op --store s patient show "$B"
    line "^PATIENT $A\$" "$T/out"
    if command -v python3 >/dev/null 2>&1; then
        for args in "patient show $B" "patient find --name smith" "patient duplicates" \
            "audit" "audit --verify" "user list" "log" "patient update $B --given Janet" \
            "patient unmerge $A $B --reason twins"; do
            # shellcheck disable=SC2086 # args is a list of words
            ok op --store s --json $args
            python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" ||
                die "not valid JSON: $args"
        done
    fi
}

t_bad_patient() {
    new_store s Site
    okv PID op --store s patient register --family Smith
    refused 65 s op --store s patient register --given Jane
    has "needs --family" "$T/err"
    refused 64 s op --store s patient register --family Smith --colour blue
    refused 64 s op --store s patient register --family Smith --family Jones
    refused 64 s op --store s patient register --family Smith extra
    refused 65 s op --store s patient register --family Smith --identifier service
    has "not SYSTEM=VALUE" "$T/err"
    refused 65 s op --store s patient register --family Smith --identifier =30012345
    refused 65 s op --store s patient register --family Smith --birth-date 12/04/1990
    refused 65 s op --store s patient register --family Smith --gender f
    refused 64 s op --store s patient
    refused 64 s op --store s patient frob
    refused 64 s op --store s patient duplicates extra
    refused 64 s op --store s patient merge "$PID"
    refused 65 s op --store s audit --patient not-an-id
    refused 64 s op --store s user
    refused 77 s as_os stranger --store s log export -o "$T/x.log"
    [ ! -e "$T/x.log" ] || die "an unmapped user exported records"
    refused 64 s op --store s --author tester patient register --family Smith
    refused 64 s op --store s --as a --as b patient register --family Smith
}

# --- recording care ---------------------------------------------------------------------------

t_clinical() {
    new_store s Site
    okv PID op --store s patient register --family Smith
    okv EID op --store s encounter add "$PID" --start 2024-03-01T09:30Z --class FLD --status finished
    okv NID op --store s note add "$EID" --heading history --text "Cough for three days."
    ok op --store s show clinical_note "$NID"
    line "^  patient_id +$PID\$" "$T/out"
    line "^  encounter_id +$EID\$" "$T/out"
    okv AID op --store s allergy add "$PID" --code 91936005 --reaction 247472004 --severity severe
    ok op --store s show allergy "$AID"
    line '^  reaction_code +247472004$' "$T/out"
    okv CID op --store s condition add "$PID" --code 195967001 --clinical-status active --onset 2001-05-01
    okv OID op --store s observation add "$PID" --code 72313002 --value 120.5 --unit "mm[Hg]" \
        --effective 2024-03-01T09:45Z --encounter "$EID"
    ok op --store s show observation "$OID"
    line '^  value_num +120\.5$' "$T/out"
    ok op --store s --json observation add "$PID" --code 365980008 --value-text "never smoked" \
        --effective 2024-03-01T09:45Z
    grep -Eq '^\{"id":"[0-9a-f]{32}"\}$' "$T/out" || die "--json: $(cat "$T/out")"
    for id in "$EID" "$NID" "$AID" "$CID" "$OID"; do
        echo "$id" | grep -Eq '^[0-9a-f]{32}$' || die "not an id: $id"
    done
    ok op --store s audit --patient "$PID"
    [ "$(grep -c ' create ' "$T/out")" -eq 7 ] || die "want 7 create events: $(cat "$T/out")"
}

t_bad_clinical() {
    new_store s Site
    okv PID op --store s patient register --family Smith
    okv EID op --store s encounter add "$PID" --start 2024-03-01T09:30Z
    refused 64 s op --store s encounter add --start 2024-03-01T09:30Z
    refused 64 s op --store s encounter add "$PID" --start 2024-03-01T09:30Z --patient-id "$PID"
    refused 64 s op --store s encounter add "$PID" "$PID" --start 2024-03-01T09:30Z
    refused 64 s op --store s encounter frob
    refused 64 s op --store s encounter
    refused 65 s op --store s encounter add "$PID"
    refused 65 s op --store s encounter add "$PID" --start yesterday
    refused 65 s op --store s encounter add "$PID" --start 2024-03-01T09:30Z --class SHIP
    refused 66 s op --store s encounter add "$(random_id)" --start 2024-03-01T09:30Z
    refused 65 s op --store s encounter add not-an-id --start 2024-03-01T09:30Z
    refused 66 s op --store s note add "$PID" --heading history --text x
    has "is a row of table 'patient'" "$T/err"
    refused 65 s op --store s note add "$EID" --heading gossip --text x
    refused 65 s op --store s note add "$EID" --heading history
    refused 65 s op --store s allergy add "$PID" --display "no code"
    refused 65 s op --store s allergy add "$PID" --code x --criticality extreme
    refused 64 s op --store s allergy add "$PID" --code x --reaction
    refused 65 s op --store s condition add "$PID" --code x --onset 2001-13-01
    refused 65 s op --store s observation add "$PID" --code x --effective 2024-03-01T09:45Z \
        --value 1 --value-text one
    refused 65 s op --store s observation add "$PID" --code x --effective 2024-03-01T09:45Z --unit kg
    refused 65 s op --store s observation add "$PID" --code x --effective 2024-03-01T09:45Z --value heavy
    refused 65 s op --store s observation add "$PID" --code x
    refused 66 s op --store s observation add "$PID" --code x --effective 2024-03-01T09:45Z \
        --encounter "$(random_id)"
    ok op --store s retract "$EID" --reason "wrong patient"
    refused 65 s op --store s note add "$EID" --heading history --text x
    ok op --store s retract "$PID" --reason "registered in error"
    refused 65 s op --store s allergy add "$PID" --code 91936005
    has "hint: " "$T/err"
}

# --- the whole record -----------------------------------------------------------------------------

# A ship's record of one patient with every kind of entry, a conflict made at a camp,
# and a second registration of the same person merged into it.
t_patient_show_golden() {
    new_store ship "HMS Example"
    new_store camp "Camp North"
    okv PID op --store ship patient register --family Smith --given Jane --birth-date 1990-04-12 \
        --gender female --nhs-number 9434765919 --address "1 High Street, Portsmouth" \
        --postcode "PO1 1AA" --phone "023 9272 7777" --identifier service=30012345
    okv E1 op --store ship encounter add "$PID" --start 2024-03-01T09:30Z --class FLD \
        --status finished --location "Sick bay" --reason-code 49727002
    ok op --store ship note add "$E1" --heading plan --text "Salbutamol inhaler, review in 48h."
    ok op --store ship note add "$E1" --heading history --text "Cough for three days."
    okv E2 op --store ship encounter add "$PID" --start 2024-03-03T10:00Z --class FLD --status finished
    okv N2 op --store ship note add "$E2" --heading examination --text "Chest clear."
    okv N3 op --store ship note add "$E2" --heading comment --text "Seen on the wrong day."
    ok op --store ship retract "$N3" --reason "note meant for another patient"
    ok op --store ship allergy add "$PID" --code 91936005 --display "Penicillin allergy" \
        --category medication --criticality high --verification confirmed --severity severe
    okv A2 op --store ship allergy add "$PID" --code 111088007 --display "Latex allergy"
    ok op --store ship retract "$A2" --reason "recorded for the wrong patient"
    ok op --store ship condition add "$PID" --code 195967001 --display Asthma \
        --clinical-status active --verification confirmed --onset 2001-05-01
    ok op --store ship observation add "$PID" --code 72313002 --value 120 --unit "mm[Hg]" \
        --effective 2024-03-01T09:45Z --encounter "$E1"
    ok op --store ship observation add "$PID" --code 365980008 --value-text "never smoked" \
        --effective 2024-03-01T09:40Z
    # The camp learns of her, and both change her family name before they meet again.
    send ship camp
    ok op --store ship patient update "$PID" --family Smyth
    ok op --store camp patient update "$PID" --family Smithe
    send camp ship
    # A second registration of the same person, merged into the first.
    okv DUP op --store ship patient register --family Smith --given Jane --birth-date 1990-04-12 \
        --gender female
    ok op --store ship allergy add "$DUP" --code 227493005 --display "Cashew nut allergy" \
        --category food
    ok op --store ship patient merge "$PID" "$DUP" --reason "same person"
    ok op --store ship patient show "$DUP"
    sort_siblings <"$T/out" | golden patient_show.txt
    line "^PATIENT $PID\$" "$T/out"
    has "CONFLICT family" "$T/out"
    ok op --store ship --json patient show "$PID"
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" ||
            die "patient show --json is not valid JSON"
    fi
    has "\"patient\":\"$PID\"" "$T/out"
    has '"retraction_reason":"recorded for the wrong patient"' "$T/out"
}

t_patient_show_empty() {
    new_store s Site
    okv PID op --store s patient register --family Brown
    ok op --store s patient show "$PID"
    has "no known allergies recorded" "$T/out"
    [ "$(grep -c '^  none recorded$' "$T/out")" -eq 3 ] || die "want 3 empty sections"
    refused 66 s op --store s patient show "$(random_id)"
    okv EID op --store s encounter add "$PID" --start 2024-03-01T09:30Z
    refused 66 s op --store s patient show "$EID"
    has "is a row of table 'encounter'" "$T/err"
    refused 64 s op --store s patient show
    # A note written in no encounter, and a registration made in error, still show.
    ok op --store s add clinical_note --patient-id "$PID" --heading comment --text "Phoned."
    ok op --store s retract "$PID" --reason "registered twice"
    ok op --store s patient show "$PID"
    line '^  \[RETRACTED: registered twice\] registered in error$' "$T/out"
    has "NOTES (in no encounter)" "$T/out"
    line '^    Phoned\.$' "$T/out"
}

# --- history and audit --------------------------------------------------------------------------

t_log() {
    new_store s Site
    ok op --store s user add --id dr.jones --name "Dr Jones" --os-user jones
    okv P1 op --store s patient register --family Smith
    okv P2 as_os jones --store s patient register --family Brown
    ok as_os jones --store s allergy add "$P1" --code 91936005
    ok op --store s patient update "$P2" --given Tom
    ok op --store s log
    [ "$(grep -c ' #[0-9]*  by ' "$T/out")" -eq 4 ] || die "want 4 commits"
    line '^[0-9-]{10}T[0-9:.]{12}Z  Site  #1  by tester$' "$T/out"
    has "    set patient.given = Tom ($P2)" "$T/out"
    ok op --store s log --patient "$P1"
    [ "$(grep -c ' #[0-9]*  by ' "$T/out")" -eq 2 ] || die "--patient: want 2 commits"
    hasnt "$P2" "$T/out"
    ok op --store s log --user dr.jones
    [ "$(grep -c ' #[0-9]*  by dr.jones' "$T/out")" -eq 2 ] || die "--user: want 2 commits"
    hasnt "by tester" "$T/out"
    ok op --store s log --user nobody
    has "no commits" "$T/out"
    ok op --store s --json log --patient "$P2"
    want='"author":"dr.jones","entered_by":null,"changes":[{"op":"insert","table":"patient"'
    has "$want,\"id\":\"$P2\"}]" "$T/out"
    has '"op":"set","table":"patient"' "$T/out"
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" ||
            die "log --json is not valid JSON"
    fi
    # Reading a patient's history is a read of the record; the whole log is not.
    ok op --store s audit --patient "$P2"
    [ "$(grep -c ' read ' "$T/out")" -eq 1 ] || die "want one read event: $(cat "$T/out")"
    enrolled s
    ok op --store s log export -o "$T/all.log"
    ok op --store s audit
    line ' export +log export: 4 commits to ' "$T/out"
    refused 66 s op --store s log --patient "$(random_id)"
    refused 64 s op --store s log --frob
}

t_audit() {
    new_store s Site
    ok op --store s user add --id dr.jones --name "Dr Jones" --os-user jones
    okv PID op --store s patient register --family Smith
    ok as_os jones --store s patient show "$PID"
    ok op --store s audit
    line '^SEQ +TIME +USER +OS USER +ACTION +PATIENT +DETAIL$' "$T/out"
    line "^4 +[0-9T:.Z-]+ +dr\\.jones +jones +read +$PID +patient show\$" "$T/out"
    ok op --store s audit --user dr.jones
    [ "$(wc -l <"$T/out")" -eq 2 ] || die "--user: want header + 1"
    ok op --store s audit --patient "$PID"
    [ "$(wc -l <"$T/out")" -eq 3 ] || die "--patient: want header + 2 (create, read)"
    ok op --store s --json audit --patient "$PID"
    has '"user":"dr.jones","os_user":"jones","action":"read","patient":' "$T/out"
    has "\"patient\":\"$PID\",\"detail\":\"patient show\"" "$T/out"
    ok op --store s audit --verify
    has "audit log intact: 4 events" "$T/out"
    refused 64 s op --store s audit --verify --user tester
    # Changing an event outside Outpost breaks the chain.
    if command -v sqlite3 >/dev/null 2>&1; then
        sqlite3 s/store.db "UPDATE audit SET detail='x' WHERE seq=1" || die "sqlite3 failed"
    else
        python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE audit SET detail = ? WHERE seq = 1", ("x",))
c.commit()' s/store.db || die "cannot tamper with the audit table"
    fi
    refused 65 s op --store s audit --verify
    has "event 1 does not match its hash" "$T/err"
    has "hint: " "$T/err"
}

# --- run ------------------------------------------------------------------------------------

. "$HERE/trust.sh"
. "$HERE/sync.sh"
. "$HERE/bundle.sh"
. "$HERE/status_http.sh"
. "$HERE/status_states.sh"

run help_global t_help_global
for w in $(echo "$help_words" | tr '|' ' '); do
    run "help_$w" "t_help_$w"
done
run init t_init
run init_bad_admin t_init_bad_admin
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
run revocation t_revocation
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
run users t_users
run unmapped_user t_unmapped_user
run as t_as
run config_good t_config_good
run config_bad t_config_bad
run nhs_valid t_nhs_valid
run nhs_invalid t_nhs_invalid
run patient_find t_patient_find
run patient_update t_patient_update
run merge_unmerge t_merge_unmerge
run bad_patient t_bad_patient
run clinical t_clinical
run bad_clinical t_bad_clinical
run patient_show_golden t_patient_show_golden
run patient_show_empty t_patient_show_empty
run log t_log
run audit t_audit
run ca_enroll t_ca_enroll
run ca_revoke t_ca_revoke
run ca_bad t_ca_bad
run enroll_bad t_enroll_bad
run enroll_store t_enroll_store

# --- backup and restore (a restored store takes a new epoch) ---------------------------

t_help_backup() { check_help backup; has "--force" "$T/out"; }
t_help_restore() { check_help restore; has "new epoch" "$T/out"; }

t_backup_restore() {
    new_store s Site
    okv PID op --store s patient register --family Smith
    ok op --store s backup "$T/b1.db"
    has "backed up store Site" "$T/out"
    has "s/keys" "$T/out"
    refused 65 s op --store s backup "$T/b1.db"
    has "--force" "$T/err"
    ok op --store s backup --force "$T/b1.db"
    ok op --store s patient register --family Jones
    ok op --store s audit
    has "backup: the whole store" "$T/out"
    # The disk fails: the database is moved aside, the key file stays.
    mkdir aside && mv s/store.db* aside/
    ok op restore "$T/b1.db" --store s
    has "new epoch" "$T/out"
    ok op --store s status
    line '^origin +[0-9a-f]{32}/2$' "$T/out"
    has "taking epoch 2" "$T/err"
    ok op --store s status
    line '^origin +[0-9a-f]{32}/2$' "$T/out"
    [ ! -s "$T/err" ] || die "a plain reopen warned: $(cat "$T/err")"
    ok op --store s audit
    has "took epoch 2, was 1" "$T/out"
    ok op --store s --json patient show "$PID"
    refused 65 s op restore "$T/b1.db" --store s
    has "aside" "$T/err"
    # Elsewhere: the keys must come along; a damaged backup leaves the directory empty.
    "$OUTPOST" restore "$T/b1.db" --store t >"$T/out" 2>"$T/err" && die "restored without keys"
    has "--keys" "$T/err"
    echo "not a database, not at all, really not" >junk.db
    mkdir u
    "$OUTPOST" restore junk.db --store u --keys s/keys >"$T/out" 2>"$T/err"
    [ $? -eq 65 ] || die "junk restored"
    [ -z "$(ls -A u)" ] || die "a refused restore left $(ls -A u)"
    ok op --json restore "$T/b1.db" --store t --keys s/keys
    has '"name":"Site"' "$T/out"
    ok op --store t status
    line '^origin +[0-9a-f]{32}/[0-9]+$' "$T/out"
    ! grep -Eq '^origin +[0-9a-f]{32}/(1|2)$' "$T/out" || die "a copy elsewhere reused an epoch"
}

run help_backup t_help_backup
run help_restore t_help_restore
run backup_restore t_backup_restore
run sync_usage t_sync_usage
run sync_once t_sync_once
run sync_unenrolled t_sync_unenrolled
run help_bundle t_help_bundle
run bundle_usage t_bundle_usage
run bundle_ship_workflow t_bundle_ship_workflow
run bundle_bad_files t_bundle_bad_files
run help_serve_http t_help_serve_http
run status_http_usage t_status_http_usage
run status_http t_status_http
run status_states t_status_states

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
