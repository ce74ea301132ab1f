/* bench/bench_units.c - what signing and verifying commits costs (DESIGN.md §4).
 *
 * Commit bodies come from a real store: patients registered with note-sized text (median
 * ~300 bytes). Per MiB of bodies it times, in one run:
 *   hash     BLAKE2b-256 of every body (the floor: bytes must be hashed anyway)
 *   chain    the per-origin chain link of every body
 *   sign     chain + one checkpoint signature per ~60 KiB unit, and unit encoding
 *   verify   unit parse + chain + checkpoint verification (sync_unit_verify)
 * and end to end into a fresh store: signed units verified, stored and applied
 * (node_store_import_units) against the same bodies imported unverified
 * (node_store_import). Medians of several runs; BENCH_QUICK=1 for one short run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "node/store.h"
#include "node/trust.h"
#include "node/units.h"
#include "schema/schema.h"
#include "sync/unit.h"

static int runs = 5;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const sn_err *err)
{
    fprintf(stderr, "bench_units: %s: %s\n", what, err != NULL ? err->msg : "");
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

typedef struct bodies {
    node_body *v;
    size_t n, cap, bytes;
} bodies;

static int keep(void *ctx, const uint8_t *p, size_t n, sn_err *err)
{
    bodies *b = ctx;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        if (b->v == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory");
    }
    uint8_t *c = malloc(n);
    if (c == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory");
    memcpy(c, p, n);
    b->v[b->n++] = (node_body){.p = c, .n = n};
    b->bytes += n;
    return 0;
}

static void bodies_free(bodies *b)
{
    for (size_t i = 0; i < b->n; i++)
        free((void *)(uintptr_t)b->v[i].p);
    free(b->v);
    *b = (bodies){0};
}

/* Enrol `st` with the CA whose secret key is ca_sk and root certificate `root`. */
static void enrol(node_store *st, const uint8_t ca_sk[64], const sync_cert *root,
                  uint64_t serial)
{
    sn_err err = SN_ERR_INIT;
    sync_enroll_request req;
    if (node_trust_request(st, &req, &err) != 0)
        die("request", &err);
    sync_cert c = {.type = SYNC_CERT_NODE, .serial = serial, .valid_after = 1,
                   .valid_before = 4000000000u};
    memcpy(c.replica, req.replica, 16);
    memcpy(c.sign_pk, req.sign_pk, 32);
    memcpy(c.noise_pk, req.noise_pk, 32);
    memcpy(c.box_pk, req.box_pk, 32);
    if (sync_cert_sign(&c, ca_sk, &err) != 0 || node_trust_install(st, &c, root, &err) != 0)
        die("enrol", &err);
}

static node_store *open_new(const char *root_dir, const char *name)
{
    sn_err err = SN_ERR_INIT;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root_dir, name);
    node_open_opts o = {.durability = NODE_FAST};
    node_store *st = NULL;
    if (node_store_create(dir, name, &o, &err) != 0 || node_store_open(&st, dir, &o, &err) != 0)
        die("store", &err);
    return st;
}

int main(void)
{
    if (getenv("BENCH_QUICK") != NULL)
        runs = 1;
    size_t commits = runs == 1 ? 1000 : 4000;
    if (sn_hash_init(NULL) != 0)
        die("libsodium", NULL);
    char tmpl[] = "/tmp/bench-units-XXXXXX";
    char *root_dir = mkdtemp(tmpl);
    if (root_dir == NULL)
        die("mkdtemp", NULL);
    char env[4200];
    snprintf(env, sizeof env, "%s/state", root_dir);
    setenv("OUTPOST_STATE_DIR", env, 1);
    sn_err err = SN_ERR_INIT;
    uint8_t ca_pk[32], ca_sk[64];
    if (sync_sign_keypair(ca_pk, ca_sk, &err) != 0)
        die("ca", &err);
    sync_cert root = {.type = SYNC_CERT_ROOT, .serial = 1, .valid_after = 1,
                      .valid_before = 4000000000u};
    memcpy(root.sign_pk, ca_pk, 32);
    snprintf(root.name, sizeof root.name, "Bench CA");
    if (sync_cert_sign(&root, ca_sk, &err) != 0)
        die("root", &err);

    /* The commits: patients with note-sized family text. */
    node_store *src = open_new(root_dir, "source");
    enrol(src, ca_sk, &root, 2);
    const schema_table *pt = schema_table_by_name("patient");
    const schema_column *fam = schema_column_by_name(pt, "family");
    const schema_column *birth = schema_column_by_name(pt, "birth_date");
    const schema_column *gender = schema_column_by_name(pt, "gender");
    char text[2100];
    uint64_t rng = 88172645463325252ull;
    if (node_store_batch_begin(src, &err) != 0)
        die("batch", &err);
    for (size_t i = 0; i < commits; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        double u = (double)(rng >> 11) / 9007199254740992.0 + 1e-9;
        size_t len = (size_t)(300.0 * exp(0.8 * sqrt(-2.0 * log(u)) * cos(2 * M_PI * u * 7.3)));
        len = len < 20 ? 20 : len > 2000 ? 2000 : len;
        for (size_t k = 0; k < len; k++)
            text[k] = (char)('a' + (rng >> (k % 50)) % 26);
        text[len] = '\0';
        schema_field f[3] = {
            {.col = fam->id, .value = schema_value_text(text)},
            {.col = birth->id, .value = schema_value_text("1990-04-12")},
            {.col = gender->id, .value = schema_value_text("female")}};
        node_write *w = NULL;
        uint8_t id[16];
        if (node_write_begin(src, "bench", NULL, &w, &err) != 0 ||
            node_write_insert(w, pt->id, f, 3, id, &err) != 0 ||
            node_write_commit(w, NULL, &err) != 0)
            die("write", &err);
    }
    if (node_store_batch_commit(src, &err) != 0)
        die("batch", &err);
    bodies raw = {0}, units = {0};
    if (node_store_export(src, NULL, keep, &raw, &err) != 0 ||
        node_store_export_units(src, NULL, keep, NULL, &units, NULL, &err) != 0)
        die("export", &err);
    double mib = (double)raw.bytes / 1048576.0;

    double t_hash[9], t_chain[9], t_sign[9], t_verify[9], t_units[9], t_raw[9];
    uint8_t sk[64], pk[32];
    if (sync_sign_keypair(pk, sk, &err) != 0)
        die("keys", &err);
    for (int r = 0; r < runs; r++) {
        uint8_t h[32], link[32] = {0};
        double t0 = now_s();
        for (size_t i = 0; i < raw.n; i++)
            sn_blake2b(h, sizeof h, raw.v[i].p, raw.v[i].n);
        t_hash[r] = now_s() - t0;

        t0 = now_s();
        for (size_t i = 0; i < raw.n; i++)
            sync_chain_next(link, link, raw.v[i].p, raw.v[i].n);
        t_chain[r] = now_s() - t0;

        /* Cut ~60 KiB units: chain, one signature each, encode. */
        sn_buf out;
        sn_buf_init(&out, (size_t)1 << 30);
        memset(link, 0, sizeof link);
        t0 = now_s();
        for (size_t i = 0; i < raw.n;) {
            size_t j = i, acc = 0;
            while (j < raw.n && (acc < NODE_UNIT_TARGET || j == i))
                acc += raw.v[j++].n + 4;
            const uint8_t *bp[2048];
            size_t bn[2048];
            for (size_t k = i; k < j; k++) {
                sync_chain_next(link, link, raw.v[k].p, raw.v[k].n);
                bp[k - i] = raw.v[k].p;
                bn[k - i] = raw.v[k].n;
            }
            sync_checkpoint cp = {.origin = *node_store_origin(src), .cert_serial = 2,
                                  .seq = j};
            memcpy(cp.link, link, 32);
            sync_checkpoint_sign(&cp, sk);
            out.len = 0;
            if (sync_unit_encode(i + 1, bp, bn, (uint32_t)(j - i), &cp, &out, &err) != 0)
                die("encode", &err);
            i = j;
        }
        t_sign[r] = now_s() - t0;
        sn_buf_free(&out);

        /* Verify the store's own units (its key is the source's: check with its cert). */
        sync_cert own;
        if (node_trust_own(src, &own, &err) != 0)
            die("own", &err);
        memset(link, 0, sizeof link);
        t0 = now_s();
        for (size_t i = 0; i < units.n; i++) {
            sync_unit u;
            if (sync_unit_parse(units.v[i].p, units.v[i].n, &u, &err) != 0 ||
                sync_unit_verify(&u, link, own.sign_pk, NULL, &err) != 0)
                die("verify", &err);
            memcpy(link, u.cp.link, 32);
            sync_unit_free(&u);
        }
        t_verify[r] = now_s() - t0;

        /* End to end into fresh stores. */
        char name[32];
        snprintf(name, sizeof name, "u%d", r);
        node_store *a = open_new(root_dir, name);
        enrol(a, ca_sk, &root, 10 + (uint64_t)r);
        if (node_trust_cert_add(a, &own, &err) != 0)
            die("cert", &err);
        t0 = now_s();
        if (node_store_import_units(a, units.v, units.n, NULL, &err) != 0 ||
            node_store_apply_pending(a, NULL, &err) != 0)
            die("import units", &err);
        t_units[r] = now_s() - t0;
        node_store_close(a);
        snprintf(name, sizeof name, "r%d", r);
        node_store *b = open_new(root_dir, name);
        t0 = now_s();
        if (node_store_import(b, raw.v, raw.n, NULL, &err) != 0)
            die("import raw", &err);
        t_raw[r] = now_s() - t0;
        node_store_close(b);
    }
    double h = median(t_hash, runs), c = median(t_chain, runs), s = median(t_sign, runs),
           v = median(t_verify, runs), u = median(t_units, runs), w = median(t_raw, runs);
    printf("commit bodies: %zu commits, %.2f MiB in %zu units (median of %d)\n", raw.n, mib,
           units.n, runs);
    printf("  hash (BLAKE2b of each body) %8.0f us/MiB  (baseline)\n", h * 1e6 / mib);
    printf("  chain links                 %8.0f us/MiB  %.2fx hash\n", c * 1e6 / mib, c / h);
    printf("  sign (chain+sign+encode)    %8.0f us/MiB  %.2fx hash\n", s * 1e6 / mib, s / h);
    printf("  verify (parse+chain+verify) %8.0f us/MiB  %.2fx hash\n", v * 1e6 / mib, v / h);
    printf("  store import, verified units %7.1f MiB/s, unverified bodies %.1f MiB/s: "
           "ratio %.2f\n", mib / u, mib / w, w / u);
    node_store_close(src);
    bodies_free(&raw);
    bodies_free(&units);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_units: could not remove %s\n", root_dir);
    return 0;
}
