/* fuzz/gen_seeds_store.c - the seeds a real store makes: a sender enrolled with the fixed
 * CA writes a few commits of varied kinds, then its commit bodies, its exported units and
 * heads, units of the same bodies signed with the fixed origin key, its log file and its
 * vector file become seeds; then it takes a proof of equivocation and makes the bundle
 * seeds (fuzz/gen_seeds_bundle.c); and configuration files (text, no encoder). */
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "fuzz/fuzz_common.h"
#include "fuzz/gen_seeds.h"
#include "node/fileio.h"
#include "node/keyfile.h"
#include "node/logfile.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/schema.h"
#include "sync/crypto.h"
#include "sync/unit.h"
#include "sync/wire.h"

/* ---- the sender's commits ---- */

typedef struct field_text {
    const char *col, *text;
} field_text;

/* Insert a row of `table` with fields given as text (ids in hex); its id to `row`. */
static void insert(node_store *st, const char *table, const char *author, const char *by,
                   const field_text *f, size_t n, uint8_t row[SCHEMA_ID_LEN])
{
    const schema_table *t = schema_table_by_name(table);
    schema_field fields[8];
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    int rc = t == NULL || n > 8 ? SN_EINVAL : node_write_begin(st, author, by, &w, &err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const schema_column *c = schema_column_by_name(t, f[i].col);
        rc = c == NULL ? SN_EINVAL : schema_value_parse(t, c, f[i].text, &fields[i].value, &err);
        if (rc == 0)
            fields[i].col = c->id;
    }
    if (rc == 0)
        rc = node_write_insert(w, t->id, fields, n, row, &err);
    if (rc == 0)
        rc = node_write_commit(w, NULL, &err);
    else
        node_write_abort(w);
    if (rc != 0)
        fuzz_fail("seed commit into %s: %s", table, err.msg);
}

static void set_text(node_store *st, const uint8_t row[SCHEMA_ID_LEN], const char *col,
                     const char *text)
{
    const schema_table *t = schema_table_by_name("patient");
    schema_value v = schema_value_text(text);
    sn_err err = SN_ERR_INIT;
    node_write *w = NULL;
    int rc = node_write_begin(st, "dr-seed", NULL, &w, &err);
    if (rc == 0)
        rc = node_write_set(w, t->id, row, schema_column_by_name(t, col)->id, &v, &err);
    if (rc == 0)
        rc = node_write_commit(w, NULL, &err);
    else
        node_write_abort(w);
    if (rc != 0)
        fuzz_fail("seed commit setting %s: %s", col, err.msg);
}

static void write_commits(node_store *st)
{
    uint8_t patient[SCHEMA_ID_LEN], obs[SCHEMA_ID_LEN], retraction[SCHEMA_ID_LEN];
    char hex[2 * SCHEMA_ID_LEN + 1];
    field_text p[] = {{"family", "Smith"}, {"given", "Ann"}, {"birth_date", "1970-01-02"},
                      {"gender", "female"}, {"nhs_number", "9434765919"}};
    insert(st, "patient", "dr-seed", NULL, p, sizeof p / sizeof p[0], patient);
    set_text(st, patient, "given", "Anne Marie");
    sn_hex(hex, patient, SCHEMA_ID_LEN);
    field_text o[] = {{"patient_id", hex}, {"code", "75367002"}, {"value_num", "120.5"},
                      {"unit", "mm[Hg]"}, {"effective", "2023-11-14T22:13:20Z"},
                      {"status", "final"}};
    insert(st, "observation", "dr-seed", "clerk-entry", o, sizeof o / sizeof o[0], obs);
    sn_hex(hex, obs, SCHEMA_ID_LEN);
    field_text r[] = {{"target_id", hex}, {"reason", "entered in error"}};
    insert(st, "retraction", "dr-seed", NULL, r, sizeof r / sizeof r[0], retraction);
}

/* ---- what the sender sends ---- */

typedef struct byte_list {
    sn_buf item[16];
    size_t n;
} byte_list;

static int keep(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    byte_list *l = ctx;
    if (l->n == sizeof l->item / sizeof l->item[0])
        return 0;
    sn_buf *b = &l->item[l->n++];
    sn_buf_init(b, n);
    return sn_buf_append(b, p, n, err);
}

static void list_free(byte_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        sn_buf_free(&l->item[i]);
    l->n = 0;
}

static void save_bytes(const char *target, const char *name, unsigned mode, const uint8_t *p,
                       size_t n)
{
    seed s;
    seed_begin(&s, mode);
    seed_put(&s, p, n);
    seed_save(&s, target, name);
}

/* The bodies of l as one unit into `out` (see fuzz_unit_make). */
static sync_checkpoint signed_unit(const byte_list *l, uint64_t serial, const uint8_t *sk,
                                   sn_buf *out)
{
    const uint8_t *p[16];
    size_t lens[16];
    for (size_t i = 0; i < l->n; i++) {
        p[i] = l->item[i].data;
        lens[i] = l->item[i].len;
    }
    return fuzz_unit_make(p, lens, l->n, serial, sk, out);
}

/* The sender's bodies in one unit signed with the fixed origin key, and its checkpoint. */
static void fixed_key_unit(const byte_list *bodies)
{
    sn_buf u;
    sn_buf_init(&u, (size_t)1 << 20);
    const fuzz_ids *k = fuzz_keys();
    sync_checkpoint cp = signed_unit(bodies, k->origin_cert.serial, k->origin_sk, &u);
    uint8_t cpb[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(&cp, cpb);
    save_bytes("unit", "checkpoint-signed", 0, cpb, sizeof cpb);
    save_bytes("unit", "checkpoint-unsigned", 1, cpb, sizeof cpb - SYNC_SIG_LEN);
    save_bytes("unit", "fixed-key", 2, u.data, u.len);
    save_bytes("unit", "fixed-key-resealed", 3, u.data, u.len);
    sn_buf_free(&u);
}

typedef struct sent {
    byte_list units, heads;
} sent;

static int keep_unit(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return keep(&((sent *)ctx)->units, p, n, err);
}

static int keep_head(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    return keep(&((sent *)ctx)->heads, p, n, err);
}

static void seeds_sent(node_store *st)
{
    sn_err err = SN_ERR_INIT;
    byte_list bodies = {.n = 0};
    sent out = {.units.n = 0, .heads.n = 0};
    if (node_store_export(st, NULL, keep, &bodies, &err) != 0 ||
        node_store_export_units(st, NULL, keep_unit, keep_head, &out, NULL, &err) != 0)
        fuzz_fail("exporting the sender: %s", err.msg);
    char name[32];
    for (size_t i = 0; i < out.units.n; i++) {
        snprintf(name, sizeof name, "exported%zu", i + 1);
        save_bytes("unit", name, 3, out.units.item[i].data, out.units.item[i].len);
    }
    seed s;
    seed_begin(&s, SYNC_MSG_HEADS);
    for (size_t i = 0; i < out.heads.n; i++) {
        snprintf(name, sizeof name, "head%zu", i + 1);
        save_bytes("unit", name, 0, out.heads.item[i].data, out.heads.item[i].len);
        seed_put(&s, out.heads.item[i].data, out.heads.item[i].len);
    }
    seed_save(&s, "wire", "heads");
    for (size_t i = 0; i < bodies.n; i++) {
        snprintf(name, sizeof name, "body%zu", i + 1);
        save_bytes("commit", name, SEED_NO_MODE, bodies.item[i].data, bodies.item[i].len);
    }
    fixed_key_unit(&bodies);
    list_free(&bodies);
    list_free(&out.units);
    list_free(&out.heads);
}

/* The sender holds a revocation list, so its log file carries one. */
static void give_crl(node_store *st)
{
    sync_crl crl = {.number = 2, .issued_at = FUZZ_NOW_S - 60, .next_update = FUZZ_NOW_S + 600};
    sync_crl_entry e = {.serial = 5, .epoch = 1, .reason = SYNC_REVOKE_RETIRED,
                        .revoked_at = FUZZ_NOW_S - 100, .last_good_seq = 9};
    memset(e.replica, 0x21, sizeof e.replica);
    sn_err err = SN_ERR_INIT;
    bool taken = false;
    int rc = sync_crl_add(&crl, &e, &err);
    if (rc == 0)
        rc = sync_crl_sign(&crl, fuzz_keys()->ca_sk, &err);
    if (rc == 0)
        rc = node_trust_crl_offer(st, &crl, &taken, &err);
    sync_crl_free(&crl);
    if (rc != 0 || !taken)
        fuzz_fail("giving the sender a revocation list: %s", err.msg);
}

static void seeds_files(node_store *st, const char *dir)
{
    sn_err err = SN_ERR_INIT;
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_path("sent.log"));
    sn_buf file;
    sync_keys keys;
    if (node_logfile_export(st, NULL, path, NULL, &err) != 0 ||
        node_file_read(path, NODE_LOGFILE_MAX, &file, &err) != 0 ||
        node_keyfile_load(dir, &keys, &err) != 0)
        fuzz_fail("the sender's log file: %s", err.msg);
    save_bytes("logfile", "exported", 0, file.data, file.len);
    save_bytes("logfile", "exported-checksummed", 1, file.data, file.len - 32);
    seed s;
    seed_begin(&s, 2);
    seed_put(&s, keys.sign_sk, sizeof keys.sign_sk);
    seed_put(&s, file.data, file.len - 32);
    seed_save(&s, "logfile", "exported-resealed");
    sync_keys_wipe(&keys);
    sn_buf_free(&file);
    crdt_vv held;
    crdt_vv_init(&held);
    snprintf(path, sizeof path, "%s", fuzz_path("held.vec"));
    if (node_store_held(st, &held, &err) != 0 || node_vecfile_write(&held, path, &err) != 0 ||
        node_file_read(path, 1 << 20, &file, &err) != 0)
        fuzz_fail("the sender's vector file: %s", err.msg);
    save_bytes("vecfile", "written", SEED_NO_MODE, file.data, file.len);
    crdt_vv_free(&held);
    sn_buf_free(&file);
    static const char by_hand[] = "# held by the hub\n\n0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e 1 5\n"
                                  "21212121212121212121212121212121 2 18446744073709551615\n";
    save_bytes("vecfile", "by-hand", SEED_NO_MODE, (const uint8_t *)by_hand,
               sizeof by_hand - 1);
}

void seeds_from_store(void)
{
    char dir[512], state[512];
    snprintf(dir, sizeof dir, "%s", fuzz_path("sender"));
    snprintf(state, sizeof state, "%s", fuzz_path("sender-state"));
    node_store *st = fuzz_store_new(dir, state, 100);
    write_commits(st);
    give_crl(st);
    seeds_sent(st);
    seeds_files(st, dir);
    seeds_equivocation(st); /* after the files: the sender now holds a proof */
    seeds_bundle(st, dir);
    node_store_close(st);
}

/* ---- a session for the link target: the fixed origin's own commits ---- */

static void record(seed *s, uint8_t kind, const void *p, size_t n)
{
    seed_put(s, &kind, 1);
    seed_piece(s, p, n);
}

void seeds_link(void)
{
    static const char *const families[] = {"Smith", "Jones"};
    sync_hello h = {.version = SYNC_WIRE_VERSION, .flags = SYNC_HELLO_FULL, .schema = 1};
    crdt_vv_init(&h.vv);
    sn_buf hello, unit;
    sn_buf_init(&hello, 1024);
    sn_buf_init(&unit, (size_t)1 << 20);
    sn_err err = SN_ERR_INIT;
    if (sync_hello_encode(&h, &hello, &err) != 0)
        fuzz_fail("the session's HELLO: %s", err.msg);
    sync_checkpoint cp = fuzz_origin_unit(families, 2, &unit);
    uint8_t head[SYNC_CHECKPOINT_LEN];
    sync_checkpoint_encode(&cp, head);
    seed s;
    seed_begin(&s, SEED_NO_MODE);
    record(&s, SYNC_MSG_HELLO, hello.data, hello.len);
    record(&s, 0x80 | SYNC_MSG_UNIT, unit.data, unit.len);
    record(&s, 0x80 | SYNC_MSG_HEADS, head, sizeof head);
    record(&s, 0, "\0\x1e", 2); /* pump, 30 s on */
    record(&s, SYNC_MSG_PING, NULL, 0);
    record(&s, SYNC_MSG_CAUGHT_UP, NULL, 0);
    record(&s, SYNC_MSG_GOODBYE, "\0done", 5);
    seed_save(&s, "link", "session");
    sn_buf_free(&hello);
    sn_buf_free(&unit);
}

void seeds_config(void)
{
    static const char full[] =
        "# outpost.conf\n"
        "[node]\n"
        "store = /var/lib/outpost\n"
        "name = HMS Example ; the ship\n"
        "[clock]\n"
        "max_skew = 5m\n"
        "[sync]\n"
        "listen = 0.0.0.0:7420\n"
        "hub = hub.example.org:7420\n"
        "hub = [::1]:7421\n"
        "retry_max = 90s\n"
        "[log]\n"
        "level = info\n"
        "journal = true\n";
    static const char small[] = "[sync]\nlisten = off\n[clock]\nmax_skew=1500ms\n";
    save_bytes("config", "full", SEED_NO_MODE, (const uint8_t *)full, sizeof full - 1);
    save_bytes("config", "small", SEED_NO_MODE, (const uint8_t *)small, sizeof small - 1);
}
