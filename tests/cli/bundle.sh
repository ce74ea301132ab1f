# tests/cli/bundle.sh - CLI tests of `outpost bundle create|import|ack`: the ship's
# workflow of the README (a site and a hub with no link but files), acknowledgements, a
# second import, bad files refused with the store unchanged, and the bundle lines of
# `outpost status`. Sourced by run.sh, whose helpers it uses (op, ok, has, refused,
# new_store, enrolled, die).

# enrolled_hub DIR: enrol store DIR (made by new_store) as a hub, certificate in $T/DIR.cert.
enrolled_hub() {
    [ -d "$T/ca" ] || ok op ca init --ca "$T/ca" --name "Test CA"
    ok op --store "$1" enroll request -o "$T/$1.request"
    ok op ca issue --ca "$T/ca" "$T/$1.request" --role hub -o "$T/$1.cert"
    ok op --store "$1" enroll install "$T/$1.cert" "$T/ca/ca.cert" --crl "$T/ca/crl"
}

# ship_and_hub: stores ship (a site) and hub, enrolled; the ship knows the hub's certificate
# (handed over with its own at enrolment).
ship_and_hub() {
    new_store ship Ship
    new_store hub Hub
    enrolled ship
    enrolled_hub hub
    ok op --store ship trust add-cert "$T/hub.cert"
}

t_help_bundle() {
    check_help bundle
    has "create" "$T/out"
    check_help bundle create
    has "--split" "$T/out"
    check_help bundle import
    has "--no-ack" "$T/out"
    check_help bundle ack
}

t_bundle_usage() {
    ship_and_hub
    "$OUTPOST" --store ship bundle create >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "create without --to was not a usage error"
    has "--to PEER" "$T/err"
    "$OUTPOST" --store ship bundle create --to Hub --split 100K >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "a part size under the minimum was accepted"
    "$OUTPOST" --store ship bundle create --to Hub --split lots >"$T/out" 2>"$T/err"
    [ $? -eq 64 ] || die "a bad size was accepted"
    refused 66 ship op --store ship bundle create --to Nowhere -o x.snb
    has "trust add-cert" "$T/err"
    refused 65 ship op --store ship bundle create --to Ship -o x.snb
    refused 66 ship op --store ship bundle import missing.snb
}

t_bundle_ship_workflow() {
    ship_and_hub
    new_store clinic Clinic
    enrolled clinic
    ok op --store clinic trust add-cert "$T/hub.cert"
    ok op --store ship patient register --family Adams --given Ann
    # Ship to hub, and the hub's acknowledgement back.
    mkdir usb
    ok op --store ship bundle create --to Hub -o usb/ship.snb
    has "bundle " "$T/out"
    has "1 commits" "$T/out"
    ok op --store hub bundle import usb/ship.snb
    has "usb/ship.snb: bundle" "$T/out"
    has "from Ship: 1 units, 1 commits stored" "$T/out"
    has "acknowledgement" "$T/out"
    [ -s usb/ack-for-Ship.snb ] || die "no acknowledgement beside the bundle"
    ok op --store ship status
    has "1 commits sent not yet acknowledged" "$T/out"
    ok op --store ship bundle import usb/ack-for-Ship.snb
    has "an acknowledgement" "$T/out"
    [ ! -e usb/ack-for-Hub.snb ] || die "an acknowledgement was acknowledged"
    ok op --store ship status
    has "bundles" "$T/out"
    has "0 commits sent not yet acknowledged" "$T/out"
    ok op --store ship --json status
    has '"bundles":[{"peer":"Hub"' "$T/out"
    ok op --store ship bundle create --to Hub -o usb/again.snb
    has "0 commits" "$T/out"
    # A second import does nothing.
    ok op --store hub bundle import --no-ack usb/ship.snb
    has "already imported" "$T/out"
    # The clinic, never linked to the ship, gets its record through the hub.
    ok op --store clinic bundle create --to Hub -o clinic.snb
    ok op --store hub bundle import --ack-dir . clinic.snb
    [ -s ack-for-Clinic.snb ] || die "no acknowledgement in --ack-dir"
    ok op --store hub --json bundle create --to Clinic -o hub-clinic.snb
    has '"commits":1' "$T/out"
    ok op --store clinic --json bundle import hub-clinic.snb
    has '"applied":1' "$T/out"
    [ "$("$OUTPOST" --store ship digest)" = "$("$OUTPOST" --store clinic digest)" ] ||
        die "ship and clinic differ after bundles through the hub"
}

t_bundle_bad_files() {
    ship_and_hub
    new_store clinic Clinic
    enrolled clinic
    ok op --store clinic trust add-cert "$T/hub.cert"
    ok op --store ship patient register --family Adams
    ok op --store ship bundle create --to Hub -o ship.snb
    _n=$(wc -c <ship.snb)
    # Not for this node.
    refused 77 clinic op --store clinic bundle import --no-ack ship.snb
    has "not addressed to this node" "$T/err"
    has "ship.snb" "$T/err"
    # Cut short.
    head -c $((_n - 7)) ship.snb >cut.snb
    refused 65 hub op --store hub bundle import --no-ack cut.snb
    has "truncated" "$T/err"
    has "hint:" "$T/err"
    # One byte changed in the body, then in the header.
    cp ship.snb bad.snb
    printf 'X' | dd of=bad.snb bs=1 seek=$((_n - 40)) conv=notrunc 2>/dev/null
    refused 77 hub op --store hub bundle import --no-ack bad.snb
    has "altered" "$T/err"
    cp ship.snb bad.snb
    printf 'X' | dd of=bad.snb bs=1 seek=60 conv=notrunc 2>/dev/null
    refused 77 hub op --store hub bundle import --no-ack bad.snb
    has "signature does not verify" "$T/err"
    echo "hello" >junk.snb
    refused 65 hub op --store hub bundle import --no-ack junk.snb
    has "not an Outpost bundle" "$T/err"
    # A bad file among good ones: the good one loads, the failure is reported.
    "$OUTPOST" --store hub bundle import --no-ack junk.snb ship.snb >"$T/out" 2>"$T/err"
    [ $? -eq 65 ] || die "a bad file among good ones did not fail"
    has "junk.snb" "$T/err"
    has "ship.snb: bundle" "$T/err"
    [ "$("$OUTPOST" --store ship digest)" = "$("$OUTPOST" --store hub digest)" ] ||
        die "the good bundle was not imported"
}
