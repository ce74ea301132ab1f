# tests/cli/trust.sh - CLI tests of the certificate authority and of what a node trusts:
# `outpost ca init|issue|revoke|list|show`, `outpost enroll request|install` and
# `outpost trust show|add-crl|add-cert`. Sourced by run.sh, whose helpers it uses (op,
# as_os, ok, refused, has, hasnt, line, new_store, die) and which runs the tests below.
#
# An older or equal revocation list is not an error: `trust add-crl` ignores it with exit
# status 0, prints nothing on stdout and says "ignored: ..." on stderr, so carrying an old
# list around is harmless and a node never goes back.
#
# Other tests may use `enroll_store DIR` to give a store made by new_store a certificate.

# --- helpers ------------------------------------------------------------------------------

# enroll_store DIR: enrol the store DIR with the test's CA at $T/ca (created on first use):
# request -> ca issue -> enroll install with the CA's ca.cert and current crl.
enroll_store() {
    _es_name=$(basename "$1")
    [ -d "$T/ca" ] || ok op ca init --ca "$T/ca" --name "Test CA"
    ok op --store "$1" enroll request -o "$T/$_es_name.request"
    ok op ca issue --ca "$T/ca" "$T/$_es_name.request" -o "$T/$_es_name.cert"
    ok op --store "$1" enroll install "$T/$_es_name.cert" "$T/ca/ca.cert" --crl "$T/ca/crl"
}

# ca_sum DIR: names and contents of every file under DIR, to show it was left unchanged.
ca_sum() {
    (cd "$1" && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f $(cksum <"$f")"; done)
}

# trust_state STORE: what the store trusts (or why it trusts nothing), for comparisons.
trust_state() { "$OUTPOST" --store "$1" --json trust show 2>&1; }

# ca_refused STATUS CADIR CMD...: like refused (exit status, `error:`, empty stdout), and
# the CA directory CADIR is left exactly as it was.
ca_refused() {
    _cr_want=$1
    _cr_dir=$2
    shift 2
    [ -d "$T/untouched" ] || new_store "$T/untouched" Untouched
    _cr_before=$(ca_sum "$_cr_dir")
    refused "$_cr_want" "$T/untouched" "$@"
    [ "$(ca_sum "$_cr_dir")" = "$_cr_before" ] || die "CA directory changed by: $*"
}

# trust_refused STATUS STORE CMD...: like refused, and what STORE trusts is unchanged.
trust_refused() {
    _tr_want=$1
    _tr_store=$2
    shift 2
    _tr_before=$(trust_state "$_tr_store")
    refused "$_tr_want" "$_tr_store" "$@"
    [ "$(trust_state "$_tr_store")" = "$_tr_before" ] || die "trust changed by: $*"
}

# flip FILE OFFSET: change one byte of FILE.
flip() {
    _fb=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059 # the format is the octal escape of the new byte
    printf "\\$(printf %03o $(((_fb + 1) % 256)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null || die "cannot change $1"
}

# --- help ---------------------------------------------------------------------------------

t_help_ca() { check_help ca; has "revoke" "$T/out"; has "OUTPOST_CA" "$T/out"; }
t_help_ca_init() { check_help ca init; has "--days" "$T/out"; }
t_help_ca_issue() {
    check_help ca issue
    has "--expect-fingerprint" "$T/out"
    has "--role" "$T/out"
}
t_help_ca_revoke() {
    check_help ca revoke
    has "--last-good-seq" "$T/out"
    has "superseded" "$T/out"
}
t_help_ca_list() { check_help ca list; }
t_help_ca_show() { check_help ca show; }
t_help_enroll() { check_help enroll; has "install" "$T/out"; }
t_help_enroll_request() { check_help enroll request; has "fingerprint" "$T/out"; }
t_help_enroll_install() { check_help enroll install; has "--crl" "$T/out"; }
t_help_trust() { check_help trust; has "add-crl" "$T/out"; }
t_help_trust_show() { check_help trust show; }
t_help_trust_add_crl() { check_help trust add-crl; has "ignored" "$T/out"; }
t_help_trust_add_cert() { check_help trust add-cert; }

# --- the round trip -------------------------------------------------------------------------

t_ca_enroll() {
    new_store s "Camp Alpha"
    ok op ca init --name "Fleet Medical CA"
    line '^created CA +outpost-ca$' "$T/out"
    [ "$(stat -c %a outpost-ca/ca.key)" = 600 ] || die "ca.key is not mode 600"
    ok op ca show
    has "name         Fleet Medical CA" "$T/out"
    has "next serial  2" "$T/out"
    has "revocation   list 1, 0 entries" "$T/out"
    ca_fp=$(sed -n 's/^fingerprint  //p' "$T/out")
    echo "$ca_fp" | grep -Eq '^([A-Z2-7]{8}-){7}[A-Z2-7]{4}$' || die "CA fingerprint '$ca_fp'"

    ok op --store s enroll request -o s.request
    has "node         Camp Alpha" "$T/out"
    node_fp=$(sed -n 's/^fingerprint  //p' "$T/out")
    replica=$(sed -n 's/^replica      //p' "$T/out")
    # The operator types the fingerprint as read out: lower case, without dashes.
    typed=$(echo "$node_fp" | tr -d - | tr 'A-Z' 'a-z')
    ok op ca issue s.request -o s.cert --expect-fingerprint "$typed"
    has "request fingerprint  $node_fp" "$T/out"
    has "replica              $replica" "$T/out"
    has "issued               serial 2, node 'Camp Alpha'" "$T/out"
    has "The fingerprint is the one expected." "$T/out"
    cmp -s s.cert outpost-ca/issued/2.cert || die "s.cert differs from issued/2.cert"

    # Not enrolled yet: trust show says so.
    refused 66 s op --store s trust show
    has "not enrolled" "$T/err"
    ok op --store s enroll install s.cert outpost-ca/ca.cert --crl outpost-ca/crl
    has "installed    serial 2, node 'Camp Alpha'" "$T/out"
    has "fingerprint  $ca_fp" "$T/out"
    has "revocation   list 1 taken" "$T/out"
    ok op --store s trust show
    has "CA           Fleet Medical CA" "$T/out"
    has "fingerprint  $ca_fp" "$T/out"
    has "this node    serial 2, node 'Camp Alpha'" "$T/out"
    hasnt "WARNING" "$T/out"
    ok op --store s --json trust show
    has "\"fingerprint\":\"$ca_fp\"" "$T/out"
    has '"crl":{"number":1,' "$T/out"
    has '"this_node":true' "$T/out"
    ok op --store s audit
    has "enroll install: certificate serial 2 (node) from CA 'Fleet Medical CA'" "$T/out"

    # A hub, and a short certificate that warns; --json everywhere.
    new_store h Hub
    ok op --store h enroll request -o h.request
    ok op --json ca issue h.request --role hub --name "Hub One" --days 10 -o h.cert
    has '"serial":3,"name":"Hub One","role":"hub"' "$T/out"
    ok op --store h enroll install h.cert outpost-ca/ca.cert
    ok op --store h trust show
    line 'WARNING: expires in (9|10) days' "$T/out"
    has "revocation   no list held yet" "$T/out"
    ok op ca list
    line '^2 +Camp Alpha +node +[0-9a-f]{32} +[0-9-]{10} +[0-9-]{10} +active$' "$T/out"
    line '^3 +Hub One +hub ' "$T/out"
    ok op --json ca list
    has '"serial":2,"name":"Camp Alpha","role":"node"' "$T/out"
    has '"status":"active"' "$T/out"
    ok op --json ca show
    has '"next_serial":4,"crl_number":1' "$T/out"

    # Another node's certificate, from the pinned CA: remembered, twice harmlessly.
    ok op --store s trust add-cert h.cert
    has "added        serial 3, hub 'Hub One'" "$T/out"
    ok op --store s trust add-cert h.cert
    ok op --store s trust show
    line '^3 +Hub One +hub ' "$T/out"
}

t_ca_revoke() {
    new_store a Alpha
    new_store b Bravo
    enroll_store a
    enroll_store b
    cp ca/crl crl1
    ok op ca revoke Bravo --ca ca --last-good-seq 12 --reason compromised -o crl2
    has "1 certificate; serials listed: 3" "$T/out"
    has "revocation   list 2 in ca/crl and crl2" "$T/out"
    cmp -s crl2 ca/crl || die "the -o copy differs from ca/crl"
    ok op ca list --ca ca
    line '^3 +Bravo +node .* revoked \(compromised\)$' "$T/out"
    line '^2 +Alpha +node .* active$' "$T/out"

    # Revoking again is refused and changes nothing; so is an unknown node.
    ca_refused 65 ca op ca revoke Bravo --ca ca --last-good-seq 12
    has "already revoked" "$T/err"
    ca_refused 66 ca op ca revoke Nobody --ca ca --last-good-seq 1
    # A revoked replica cannot be certified again.
    ca_refused 65 ca op ca issue --ca ca b.request
    has "was revoked" "$T/err"

    # Nodes take the newer list; an older or equal one is ignored, with exit status 0.
    ok op --store a trust add-crl crl2
    has "taken: revocation list 2 (1 entry)" "$T/out"
    ok op --store a trust add-crl crl2
    [ ! -s "$T/out" ] || die "an ignored list printed to stdout"
    has "ignored: revocation list 2 is not newer than list 2 held here" "$T/err"
    ok op --store a trust add-crl crl1
    has "ignored: revocation list 1 is not newer than list 2" "$T/err"
    ok op --store a --json trust add-crl crl1
    has '{"taken":false,"number":1,"held":2}' "$T/out"
    ok op --store a trust show
    line '^  serial 3 of [0-9a-f]{32}/1: compromised, commits after seq 12 refused$' "$T/out"
    ok op --store b trust add-crl ca/crl
    ok op --store b trust show
    has "WARNING: revoked (compromised) by revocation list 2" "$T/out"

    # By replica id and by serial; the numbers go up by one each time.
    new_store c Charlie
    enroll_store c
    ok op --json ca list --ca ca
    creplica=$(sed -n 's/.*"name":"Charlie","role":"node","replica":"\([0-9a-f]*\)".*/\1/p' \
        "$T/out")
    [ -n "$creplica" ] || die "no replica for Charlie in: $(cat "$T/out")"
    ok op ca revoke "$creplica" --ca ca --last-good-seq 0 --epoch 1 --reason retired
    has "revocation   list 3" "$T/out"
    ok op ca revoke 2 --ca ca --last-good-seq 5
    has "revocation   list 4" "$T/out"
    ok op --json ca show --ca ca
    has '"crl_number":4,"crl_entries":3' "$T/out"
}

# --- refusals at the CA ---------------------------------------------------------------------

t_ca_bad() {
    new_store s Site
    ok op ca init --ca ca --name "Test CA"
    ok op --store s enroll request -o s.request
    ca_refused 65 ca op ca init --ca ca --name Again
    has "not empty" "$T/err"
    ca_refused 64 ca op ca init --ca ca2 --days 0
    ca_refused 64 ca op ca issue --ca ca s.request --days 36501
    ca_refused 64 ca op ca issue --ca ca s.request --role root
    ca_refused 64 ca op ca issue --ca ca
    ca_refused 64 ca op ca revoke Site --ca ca
    has "--last-good-seq" "$T/err"
    ca_refused 64 ca op ca revoke Site --ca ca --last-good-seq -1
    ca_refused 64 ca op ca revoke Site --ca ca --last-good-seq 1 --reason stolen
    ca_refused 64 ca op ca revoke Site --ca ca --last-good-seq 1 --epoch 0
    ca_refused 65 ca op ca init --ca ca3 --name "$(printf 'bell\007')"
    [ ! -e ca3 ] || die "a refused init left ca3"

    # The fingerprint the node showed must match, and the request must be intact.
    ca_refused 77 ca op ca issue --ca ca s.request --expect-fingerprint AAAAAAAA-BBBBBBBB
    has "do not issue" "$T/err"
    cp s.request bad.request
    flip bad.request 40
    ca_refused 77 ca op ca issue --ca ca bad.request
    has "enrolment request" "$T/err"
    head -c 100 s.request >short.request
    ca_refused 65 ca op ca issue --ca ca short.request
    ca_refused 66 ca op ca issue --ca ca missing.request
    ca_refused 65 ca op ca issue --ca ca ca/crl

    # A damaged or exposed CA directory is refused with a clear message.
    ca_refused 66 ca op ca show --ca nowhere
    has "hint: create one with 'outpost ca init" "$T/err"
    chmod 644 ca/ca.key
    ca_refused 77 ca op ca show --ca ca
    has "readable by others" "$T/err"
    has "hint: run: chmod 600" "$T/err"
    chmod 600 ca/ca.key
    cp ca/state state.good
    echo "next-serial x" >ca/state
    ca_refused 65 ca op ca issue --ca ca s.request
    has "state" "$T/err"
    has "hint: restore the CA directory from its backup" "$T/err"
    rm ca/state
    ca_refused 66 ca op ca list --ca ca
    cp state.good ca/state
    mv ca/ca.key ca.key.good
    ca_refused 66 ca op ca issue --ca ca s.request
    has "ca.key" "$T/err"
    mv ca.key.good ca/ca.key
    ok env OUTPOST_CA="$T/ca" "$OUTPOST" ca issue s.request
    has "serial 2" "$T/out"
}

# --- refusals on the node -------------------------------------------------------------------

t_enroll_bad() {
    new_store s Site
    new_store o Other
    ok op ca init --ca ca --name "Test CA"
    ok op ca init --ca ca2 --name "Another CA"
    ok op --store s enroll request -o s.request
    ok op --store o enroll request -o o.request
    ok op ca issue --ca ca s.request -o s.cert
    ok op ca issue --ca ca2 s.request -o s2.cert
    ok op ca issue --ca ca o.request -o o.cert

    # Not enrolled: everything refused leaves it not enrolled.
    trust_refused 77 s op --store s enroll install s.cert ca2/ca.cert
    has "not issued by CA 'Another CA'" "$T/err"
    trust_refused 77 s op --store s enroll install s2.cert ca/ca.cert
    trust_refused 77 s op --store s enroll install o.cert ca/ca.cert
    has "another replica" "$T/err"
    has "hint: " "$T/err"
    trust_refused 77 s op --store s enroll install s.cert s.cert
    has "not a root" "$T/err"
    cp s.cert t.cert
    flip t.cert 60
    trust_refused 77 s op --store s enroll install t.cert ca/ca.cert
    has "bad signature" "$T/err"
    trust_refused 65 s op --store s enroll install s.request ca/ca.cert
    has "certificate file 's.request'" "$T/err"
    trust_refused 66 s op --store s enroll install missing.cert ca/ca.cert
    trust_refused 77 s op --store s enroll install s.cert ca/ca.cert --crl ca2/crl
    trust_refused 65 s op --store s enroll install s.cert ca/ca.cert --crl s.cert
    trust_refused 64 s op --store s enroll install s.cert
    ok op --store s user add --id nurse --name Nurse --os-user nurse
    trust_refused 77 s as_os nurse --store s enroll install s.cert ca/ca.cert
    has "only an administrator" "$T/err"
    trust_refused 66 s op --store s trust add-crl ca/crl
    has "not enrolled" "$T/err"

    # Enrolled: another CA's list or certificate, a damaged file, a clinician: refused.
    ok op --store s enroll install s.cert ca/ca.cert --crl ca/crl
    trust_refused 77 s op --store s enroll install s2.cert ca2/ca.cert
    has "already trusts CA 'Test CA'" "$T/err"
    trust_refused 77 s op --store s trust add-crl ca2/crl
    trust_refused 65 s op --store s trust add-crl s.cert
    cp ca/crl t.crl
    flip t.crl 20
    trust_refused 77 s op --store s trust add-crl t.crl
    trust_refused 77 s op --store s trust add-cert s2.cert
    has "not from this deployment's CA" "$T/err"
    trust_refused 65 s op --store s trust add-cert ca/crl
    trust_refused 77 s as_os nurse --store s trust add-cert o.cert
    trust_refused 77 s as_os nurse --store s trust add-crl ca/crl
    # Clinicians and unmapped OS users may look.
    ok as_os nurse --store s trust show
    ok as_os stranger --store s trust show
}

# enroll_store makes the CA once and enrols several stores with it.
t_enroll_store() {
    new_store a Alpha
    new_store b Bravo
    enroll_store a
    enroll_store b
    ok op ca list --ca ca
    line '^2 +Alpha ' "$T/out"
    line '^3 +Bravo ' "$T/out"
    ok op --store a trust add-cert b.cert
    ok op --store a trust show
    line '^3 +Bravo +node ' "$T/out"
    ok op --store b trust show
    has "CA           Test CA" "$T/out"
}
