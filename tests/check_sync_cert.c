/* tests/check_sync_cert.c - signatures (sync/crypto.c) and certificates: round trips,
 * exact sizes, every-bit tampering, wrong issuers, validity, the verified-certificate
 * cache, and strict parsing. */
#include <check.h>
#include <string.h>

#include "base/alloc.h"
#include "sync/cert.h"
#include "sync/crypto.h"

#define NODE_NAME "Ward 3 \xE2\x80\x94 caf\xC3\xA9 \xF0\x9F\x8F\xA5" /* em dash, é, U+1F3E5 */

typedef struct ca {
    uint8_t pk[SYNC_SIGN_PK_LEN];
    uint8_t sk[SYNC_SIGN_SK_LEN];
} ca;

static ca ca_new(void)
{
    ca k;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_sign_keypair(k.pk, k.sk, &err) == 0, "keypair: %s", err.msg);
    return k;
}

static sync_cert root_cert(const ca *k)
{
    sync_cert c = {.type = SYNC_CERT_ROOT, .serial = 1, .valid_after = 1000,
                   .valid_before = 2000};
    memset(c.replica, 0x11, 16);
    memset(c.site, 0x22, 16);
    memcpy(c.sign_pk, k->pk, SYNC_SIGN_PK_LEN);
    return c;
}

static sync_cert node_cert(void)
{
    sync_keys keys;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_keys_generate(&keys, &err) == 0, "keys: %s", err.msg);
    sync_cert c = {.type = SYNC_CERT_NODE, .serial = 42, .valid_after = 1000,
                   .valid_before = 5000, .nscopes = 4};
    memset(c.replica, 0xA1, 16);
    memset(c.site, 0xB2, 16);
    memcpy(c.sign_pk, keys.sign_pk, SYNC_SIGN_PK_LEN);
    memcpy(c.noise_pk, keys.noise_pk, SYNC_X25519_LEN);
    memcpy(c.box_pk, keys.box_pk, SYNC_X25519_LEN);
    for (int i = 0; i < 4; i++)
        memset(c.scopes[i], 0x30 + i, 16);
    ck_assert_uint_lt(strlen(NODE_NAME), sizeof c.name);
    memcpy(c.name, NODE_NAME, strlen(NODE_NAME) + 1);
    sync_keys_wipe(&keys);
    return c;
}

static void sign_ok(sync_cert *c, const ca *k)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_cert_sign(c, k->sk, &err) == 0, "sign: %s", err.msg);
}

static void encode_ok(const sync_cert *c, sn_buf *b)
{
    sn_err err = SN_ERR_INIT;
    sn_buf_init(b, SYNC_CERT_MAX);
    ck_assert_msg(sync_cert_encode(c, b, &err) == 0, "encode: %s", err.msg);
}

static int parse_rc(const uint8_t *p, size_t n, sn_err *err)
{
    sync_cert c;
    return sync_cert_parse(p, n, &c, err);
}

/* Field by field (the struct has padding). */
static void assert_cert_eq(const sync_cert *a, const sync_cert *b)
{
    ck_assert_uint_eq(a->type, b->type);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_uint_eq(a->serial, b->serial);
    ck_assert_mem_eq(a->replica, b->replica, 16);
    ck_assert_mem_eq(a->site, b->site, 16);
    ck_assert_mem_eq(a->sign_pk, b->sign_pk, SYNC_SIGN_PK_LEN);
    ck_assert_mem_eq(a->noise_pk, b->noise_pk, SYNC_X25519_LEN);
    ck_assert_mem_eq(a->box_pk, b->box_pk, SYNC_X25519_LEN);
    ck_assert_uint_eq(a->valid_after, b->valid_after);
    ck_assert_uint_eq(a->valid_before, b->valid_before);
    ck_assert_mem_eq(a->issuer_kid, b->issuer_kid, SYNC_KID_LEN);
    ck_assert_uint_eq(a->nscopes, b->nscopes);
    ck_assert_mem_eq(a->scopes, b->scopes, 16 * (size_t)a->nscopes);
    ck_assert_str_eq(a->name, b->name);
    ck_assert_mem_eq(a->sig, b->sig, SYNC_SIG_LEN);
}

START_TEST(test_sign_is_domain_separated_including_the_nul)
{
    ca k = ca_new();
    uint8_t sig[SYNC_SIG_LEN];
    sync_sign(sig, "ab", (const uint8_t *)"c", 1, k.sk);
    ck_assert(sync_verify(sig, "ab", (const uint8_t *)"c", 1, k.pk));
    /* "ab\0c" and "abc\0" differ only because the NUL is signed. */
    ck_assert(!sync_verify(sig, "abc", NULL, 0, k.pk));
    ck_assert(!sync_verify(sig, "ab", (const uint8_t *)"d", 1, k.pk));
    ca other = ca_new();
    ck_assert(!sync_verify(sig, "ab", (const uint8_t *)"c", 1, other.pk));
    uint8_t pk[SYNC_SIGN_PK_LEN], kid[SYNC_KID_LEN], kid2[SYNC_KID_LEN];
    sync_sign_pk_of(pk, k.sk);
    ck_assert_mem_eq(pk, k.pk, SYNC_SIGN_PK_LEN);
    sync_kid(kid, k.pk);
    sync_kid(kid2, other.pk);
    ck_assert(memcmp(kid, kid2, SYNC_KID_LEN) != 0);
}
END_TEST

START_TEST(test_sign_large_message_allocates_and_reports_nomem)
{
    ca k = ca_new();
    size_t n = 100000;
    uint8_t *msg = sn_calloc(1, n);
    ck_assert_ptr_nonnull(msg);
    uint8_t sig[SYNC_SIG_LEN];
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_sign_checked(sig, "big", msg, n, k.sk, &err), 0);
    ck_assert(sync_verify(sig, "big", msg, n, k.pk));
    msg[n - 1] ^= 1;
    ck_assert(!sync_verify(sig, "big", msg, n, k.pk));
    msg[n - 1] ^= 1;
    long base = sn_alloc_live();
    sn_fault_arm(SN_FAULT_ALLOC, 0, 1);
    int rc = sync_sign_checked(sig, "big", msg, n, k.sk, &err);
    ck_assert(sn_fault_disarm());
    ck_assert_int_eq(rc, SN_ENOMEM);
    ck_assert_str_ne(err.msg, "");
    ck_assert(!sync_verify(sig, "big", msg, n, k.pk)); /* the all-zero signature */
    sn_fault_arm(SN_FAULT_ALLOC, 0, 1);
    sn_err_clear(&err);
    rc = sync_verify_checked(sig, "big", msg, n, k.pk, &err);
    ck_assert(sn_fault_disarm());
    ck_assert_int_eq(rc, SN_ENOMEM);
    ck_assert_int_eq(sn_alloc_live(), base);
    sn_free(msg);
}
END_TEST

START_TEST(test_cert_root_and_node_round_trip_with_exact_sizes)
{
    ca k = ca_new();
    sync_cert root = root_cert(&k);
    sign_ok(&root, &k);
    sn_buf b;
    encode_ok(&root, &b);
    ck_assert_uint_eq(b.len, 171 + 64); /* n = 0, no name */
    sync_cert back;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_cert_parse(b.data, b.len, &back, &err) == 0, "parse: %s", err.msg);
    ck_assert_msg(sync_cert_verify(&back, root.sign_pk, 0, &err) == 0, "verify: %s", err.msg);
    ck_assert_msg(sync_cert_verify(&back, k.pk, 1500, &err) == 0, "verify: %s", err.msg);
    assert_cert_eq(&back, &root);
    sn_buf_free(&b);

    sync_cert node = node_cert();
    sign_ok(&node, &k);
    encode_ok(&node, &b);
    ck_assert_uint_eq(b.len, 171 + 4 * 16 + strlen(NODE_NAME) + 64);
    ck_assert_msg(sync_cert_parse(b.data, b.len, &back, &err) == 0, "parse: %s", err.msg);
    ck_assert_msg(sync_cert_verify(&back, k.pk, 4999, &err) == 0, "verify: %s", err.msg);
    ck_assert_str_eq(back.name, NODE_NAME);
    ck_assert_uint_eq(back.nscopes, 4);
    assert_cert_eq(&back, &node);
    ck_assert_str_eq(sync_cert_type_name(back.type), "node");
    ck_assert_str_eq(sync_cert_type_name(9), "unknown");
    sn_buf_free(&b);

    /* The largest certificate is exactly SYNC_CERT_MAX. */
    node.nscopes = SYNC_CERT_SCOPES_MAX;
    memset(node.name, 'x', SYNC_CERT_NAME_MAX);
    node.name[SYNC_CERT_NAME_MAX] = '\0';
    sign_ok(&node, &k);
    encode_ok(&node, &b);
    ck_assert_uint_eq(b.len, SYNC_CERT_MAX);
    ck_assert_msg(sync_cert_parse(b.data, b.len, &back, &err) == 0, "parse: %s", err.msg);
    ck_assert_msg(sync_cert_verify(&back, k.pk, 0, &err) == 0, "verify: %s", err.msg);
    sn_buf_free(&b);
}
END_TEST

/* Flip every bit of `b` in turn: the result must fail to parse or to verify (through
 * `cache` when not NULL). */
static void every_bit_flip_is_caught(sn_buf *b, const uint8_t pk[SYNC_SIGN_PK_LEN],
                                     sync_cert_cache *cache)
{
    for (size_t bit = 0; bit < b->len * 8; bit++) {
        b->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        sync_cert c;
        sn_err err = SN_ERR_INIT;
        int rc = sync_cert_parse(b->data, b->len, &c, &err);
        if (rc == 0) {
            rc = sync_cert_verify_cached(&c, pk, 0, cache, &err);
            ck_assert_msg(rc == SN_EAUTH, "bit %zu: verify gave %d", bit, rc);
        } else {
            ck_assert_msg(rc == SN_ECORRUPT || rc == SN_EVERSION, "bit %zu: parse gave %d", bit,
                          rc);
        }
        ck_assert_msg(err.msg[0] != '\0', "bit %zu: no message", bit);
        b->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

START_TEST(test_cert_every_bit_flip_is_refused)
{
    ca k = ca_new();
    sync_cert root = root_cert(&k), node = node_cert();
    sign_ok(&root, &k);
    sign_ok(&node, &k);
    sn_buf b;
    encode_ok(&root, &b);
    every_bit_flip_is_caught(&b, k.pk, NULL);
    sn_buf_free(&b);
    encode_ok(&node, &b);
    every_bit_flip_is_caught(&b, k.pk, NULL);
    sn_buf_free(&b);
}
END_TEST

START_TEST(test_cert_wrong_issuer_kid_and_signature)
{
    ca k = ca_new(), other = ca_new();
    sync_cert node = node_cert();
    sign_ok(&node, &k);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_cert_verify(&node, other.pk, 0, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "issuer key id"));

    /* Signed by another key but claiming k's id: the kid matches, the signature fails. */
    sync_cert forged = node;
    sign_ok(&forged, &other);
    memcpy(forged.issuer_kid, node.issuer_kid, SYNC_KID_LEN);
    sn_err_clear(&err);
    ck_assert_int_eq(sync_cert_verify(&forged, k.pk, 0, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad signature"));

    /* Kid changed after signing. */
    sync_cert kid = node;
    kid.issuer_kid[0] ^= 0x80;
    sn_err_clear(&err);
    ck_assert_int_eq(sync_cert_verify(&kid, k.pk, 0, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "issuer key id"));

    /* A field changed after signing. */
    sync_cert scope = node;
    scope.scopes[3][15] ^= 1;
    sn_err_clear(&err);
    ck_assert_int_eq(sync_cert_verify(&scope, k.pk, 0, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad signature"));
}
END_TEST

START_TEST(test_cert_cache_skips_only_the_signature)
{
    ca k = ca_new(), other = ca_new();
    sync_cert node = node_cert(); /* valid [1000, 5000) */
    sign_ok(&node, &k);
    sync_cert_cache cache;
    sync_cert_cache_clear(&cache);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_cert_verify_cached(&node, k.pk, 0, &cache, &err), 0);
    ck_assert_uint_eq(cache.n, 1);
    ck_assert_int_eq(sync_cert_verify_cached(&node, k.pk, 2000, &cache, &err), 0);
    ck_assert_uint_eq(cache.n, 1);

    /* A hit still checks validity, and only those bytes under that key hit. */
    ck_assert_int_eq(sync_cert_verify_cached(&node, k.pk, 5000, &cache, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
    sync_cert forged = node;
    sign_ok(&forged, &other);
    memcpy(forged.issuer_kid, node.issuer_kid, SYNC_KID_LEN);
    sn_err_clear(&err);
    ck_assert_int_eq(sync_cert_verify_cached(&forged, k.pk, 0, &cache, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad signature"));
    sync_cert swapped = node; /* the genuine signature over other bytes */
    swapped.serial++;
    ck_assert_int_eq(sync_cert_verify_cached(&swapped, k.pk, 0, &cache, &err), SN_EAUTH);
    sn_buf b;
    encode_ok(&node, &b);
    every_bit_flip_is_caught(&b, k.pk, &cache);
    sn_buf_free(&b);
    ck_assert_uint_eq(cache.n, 1);

    /* Full, the oldest entry makes room; results stay right. */
    for (uint64_t i = 0; i < SYNC_CERT_CACHE_N; i++) {
        sync_cert c = node;
        c.serial = 100 + i;
        sign_ok(&c, &k);
        ck_assert_int_eq(sync_cert_verify_cached(&c, k.pk, 0, &cache, &err), 0);
    }
    ck_assert_uint_eq(cache.n, SYNC_CERT_CACHE_N);
    ck_assert_uint_eq(cache.next, 1);
    ck_assert_int_eq(sync_cert_verify_cached(&node, k.pk, 0, &cache, &err), 0);
    ck_assert_int_eq(sync_cert_verify_cached(&forged, k.pk, 0, &cache, &err), SN_EAUTH);
    sync_cert_cache_clear(&cache);
    ck_assert_uint_eq(cache.n, 0);
}
END_TEST

START_TEST(test_cert_validity_window)
{
    ca k = ca_new();
    sync_cert node = node_cert(); /* valid [1000, 5000) */
    sign_ok(&node, &k);
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_cert_verify(&node, k.pk, 0, &err), 0);
    ck_assert_int_eq(sync_cert_verify(&node, k.pk, 1000, &err), 0);
    ck_assert_int_eq(sync_cert_verify(&node, k.pk, 4999, &err), 0);
    ck_assert_int_eq(sync_cert_verify(&node, k.pk, 5000, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "expired"));
    sn_err_clear(&err);
    ck_assert_int_eq(sync_cert_verify(&node, k.pk, 999, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "not yet valid"));

    sync_cert rev = node;
    rev.valid_after = 5001;
    sn_err_clear(&err);
    ck_assert_int_eq(sync_cert_sign(&rev, k.sk, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "reversed"));
}
END_TEST

START_TEST(test_cert_sign_and_encode_refuse_malformed)
{
    ca k = ca_new();
    sn_buf b;
    sn_buf_init(&b, SYNC_CERT_MAX);
    static const char *const cases[] = {"type 0", "65 scopes", "65-byte name", "bad UTF-8",
                                        "flags"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sync_cert c = node_cert();
        switch (i) {
        case 0: c.type = 0; break;
        case 1: c.nscopes = 65; break;
        case 2: memset(c.name, 'n', sizeof c.name); break; /* no NUL in 65 bytes */
        case 3: memcpy(c.name, "a\xC0\x80", 4); break;      /* overlong NUL */
        default: c.flags = 1; break;
        }
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(sync_cert_sign(&c, k.sk, &err) == SN_EINVAL, "%s", cases[i]);
        ck_assert_msg(sync_cert_encode(&c, &b, &err) == SN_EINVAL, "%s", cases[i]);
        ck_assert_uint_eq(b.len, 0);
    }
    sn_buf_free(&b);
}
END_TEST

START_TEST(test_cert_parse_is_strict)
{
    ca k = ca_new();
    sync_cert node = node_cert();
    sign_ok(&node, &k);
    sn_buf b;
    encode_ok(&node, &b);
    uint8_t p[SYNC_CERT_MAX + 1];
    size_t n = b.len;
    memcpy(p, b.data, n);
    sn_err err = SN_ERR_INIT;
    size_t name_off = 170 + 16 * 4;

    /* Truncated at every length. */
    for (size_t len = 0; len < n; len++) {
        sn_err_clear(&err);
        ck_assert_msg(parse_rc(p, len, &err) == SN_ECORRUPT, "length %zu", len);
    }
    /* One trailing byte. */
    p[n] = 0;
    sn_err_clear(&err);
    ck_assert_int_eq(parse_rc(p, n + 1, &err), SN_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));

    /* Unknown version, version 0, bad magic, unknown type, flags. */
    struct {
        size_t off;
        uint8_t val;
        int rc;
        const char *word;
    } bad[] = {
        {4, 2, SN_EVERSION, "version 2"}, {4, 0, SN_ECORRUPT, "version"},
        {0, 'X', SN_ECORRUPT, "magic"},   {5, 5, SN_ECORRUPT, "type"},
        {5, 0, SN_ECORRUPT, "type"},      {7, 1, SN_ECORRUPT, "flags"},
        {169, 65, SN_ECORRUPT, "64"},     /* n = 65 */
        {name_off, 65, SN_ECORRUPT, "name"},
        {name_off + 1, 0xFF, SN_ECORRUPT, "UTF-8"},
        {name_off + 1, 0x1B, SN_ECORRUPT, "control"}, /* ESC */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t keep = p[bad[i].off];
        p[bad[i].off] = bad[i].val;
        sn_err_clear(&err);
        ck_assert_msg(parse_rc(p, n, &err) == bad[i].rc, "case %zu", i);
        ck_assert_msg(strstr(err.msg, bad[i].word) != NULL, "case %zu: '%s'", i, err.msg);
        p[bad[i].off] = keep;
    }
    ck_assert_int_eq(parse_rc(p, n, &err), 0);

    /* n = 65 with the bytes it would need present is still refused. */
    sync_cert big = node_cert();
    big.nscopes = 64;
    sign_ok(&big, &k);
    sn_buf b2;
    encode_ok(&big, &b2);
    uint8_t q[SYNC_CERT_MAX + 16];
    memcpy(q, b2.data, 170 + 16 * 64);
    memset(q + 170 + 16 * 64, 0, 16);
    memcpy(q + 170 + 16 * 65, b2.data + 170 + 16 * 64, b2.len - (170 + 16 * 64));
    sn_store_u16be(q + 168, 65);
    sn_err_clear(&err);
    ck_assert_int_eq(parse_rc(q, b2.len + 16, &err), SN_ECORRUPT);
    sn_buf_free(&b2);
    sn_buf_free(&b);
}
END_TEST

START_TEST(test_cert_name_validation)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"", true},
        {"plain", true},
        {"\xC3\xA9", true},
        {"\xE2\x80\x94", true},
        {"\xF0\x9F\x8F\xA5", true},
        {"\xF4\x8F\xBF\xBF", true},   /* U+10FFFF */
        {"\xC3", false},              /* truncated */
        {"\x80", false},              /* stray continuation */
        {"\xC1\xBF", false},          /* overlong */
        {"\xE0\x9F\xBF", false},      /* overlong 3-byte */
        {"\xF0\x8F\xBF\xBF", false},  /* overlong 4-byte */
        {"\xED\xA0\x80", false},      /* surrogate U+D800 */
        {"\xED\xBF\xBF", false},      /* surrogate U+DFFF */
        {"\xED\x9F\xBF", true},       /* U+D7FF */
        {"\xEE\x80\x80", true},       /* U+E000 */
        {"\xF4\x90\x80\x80", false},  /* past U+10FFFF */
        {"\xF5\x80\x80\x80", false},
        {"a\tb", false},
        {"\x7F", false},
        {"\xC2\x9B", false},          /* C1 CSI */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(sync_cert_name_is_valid((const uint8_t *)cases[i].s, strlen(cases[i].s)) ==
                          cases[i].ok,
                      "case %zu", i);
    char name[66];
    memset(name, 'a', sizeof name);
    ck_assert(sync_cert_name_is_valid((const uint8_t *)name, 64));
    ck_assert(!sync_cert_name_is_valid((const uint8_t *)name, 65));
}
END_TEST

START_TEST(test_cert_has_scope)
{
    sync_cert c = node_cert();
    uint8_t s[16];
    memset(s, 0x32, 16);
    ck_assert(sync_cert_has_scope(&c, s));
    memset(s, 0x33, 16);
    ck_assert(sync_cert_has_scope(&c, s));
    memset(s, 0x34, 16);
    ck_assert(!sync_cert_has_scope(&c, s));
    c.nscopes = 3;
    memset(s, 0x33, 16);
    ck_assert(!sync_cert_has_scope(&c, s));
    c.nscopes = 0;
    memset(s, 0x30, 16);
    ck_assert(!sync_cert_has_scope(&c, s));
}
END_TEST

Suite *sync_cert_suite(void);
Suite *sync_cert_suite(void)
{
    Suite *s = suite_create("sync_cert_suite");
    TCase *tc = tcase_create("signatures");
    tcase_add_test(tc, test_sign_is_domain_separated_including_the_nul);
    tcase_add_test(tc, test_sign_large_message_allocates_and_reports_nomem);
    suite_add_tcase(s, tc);

    tc = tcase_create("cert");
    tcase_add_test(tc, test_cert_root_and_node_round_trip_with_exact_sizes);
    tcase_add_test(tc, test_cert_every_bit_flip_is_refused);
    tcase_add_test(tc, test_cert_wrong_issuer_kid_and_signature);
    tcase_add_test(tc, test_cert_cache_skips_only_the_signature);
    tcase_add_test(tc, test_cert_validity_window);
    tcase_add_test(tc, test_cert_sign_and_encode_refuse_malformed);
    tcase_add_test(tc, test_cert_parse_is_strict);
    tcase_add_test(tc, test_cert_name_validation);
    tcase_add_test(tc, test_cert_has_scope);
    suite_add_tcase(s, tc);
    return s;
}
