/* tests/check_sync_noise.c - the XX handshake (sync/noise.c) against vectors from another
 * implementation (flynn/noise, as Debian packages it), live against python3-dissononce, and
 * against hostile input: flipped bits, wrong lengths, low-order keys, calls out of turn.
 * Both outside pieces are required, never skipped (scripts/install-deps installs them); run
 * from the repository root. SN_NOISE_VECTORS and SN_PYTHON3 override where they are found. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/crypto_noise.h"
#include "sync/noise.h"

#define PROLOGUE "outpost/noise/v1SNX1"
#define PROLOGUE_LEN (sizeof PROLOGUE - 1)

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct side {
    uint8_t sk[32], pk[32];
    sync_noise hs;
} side;

static void side_init(side *s, bool initiator)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_noise_keypair(s->sk, s->pk, &err) == 0, "keypair: %s", err.msg);
    sync_noise_init(&s->hs, initiator, (const uint8_t *)PROLOGUE, PROLOGUE_LEN, s->sk, s->pk);
}

/* Write the next message on `from` into msg (PASS_CAP bytes) and read it on `to`; payload
 * "m<num>". */
#define PASS_CAP 256
static void pass(side *from, side *to, uint8_t *msg, size_t *msg_len)
{
    char pl[8];
    int pn = snprintf(pl, sizeof pl, "m%d", from->hs.msgs + 1);
    uint8_t got[64];
    size_t got_len = 0;
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_noise_write(&from->hs, (const uint8_t *)pl, (size_t)pn, msg, PASS_CAP,
                                   msg_len, &err) == 0, "write: %s", err.msg);
    ck_assert_msg(sync_noise_read(&to->hs, msg, *msg_len, got, sizeof got, &got_len, &err) == 0,
                  "read: %s", err.msg);
    ck_assert(got_len == (size_t)pn && memcmp(got, pl, got_len) == 0);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void assert_dead(sync_noise *hs)
{
    ck_assert(all_zero(hs, sizeof *hs));
    ck_assert_ptr_null(sync_noise_remote_static(hs));
    ck_assert(!sync_noise_is_done(hs));
    uint8_t out[256] = {0}, got[64];
    size_t len = 1;
    sn_err err = SN_ERR_INIT;
    ck_assert_int_eq(sync_noise_write(hs, NULL, 0, out, sizeof out, &len, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "unusable"));
    ck_assert_int_eq(sync_noise_read(hs, out, 96, got, sizeof got, &len, NULL), SN_EINVAL);
}

/* ---- 1. vectors from flynn/noise ------------------------------------------------------- */

#define VEC_DEFAULT_PATH "/usr/share/gocode/src/github.com/flynn/noise/vectors.txt"
#define VEC_MSGS 8
#define VEC_BYTES 1024
#define XX_NAME "Noise_XX_25519_ChaChaPoly_SHA256"

typedef struct vec_case {
    int line; /* where "handshake=" was, for messages */
    char name[96];
    uint8_t init_static[32], resp_static[32], init_eph[32], resp_eph[32], hash[32];
    bool has_keys[4], has_psk, has_hash;
    uint8_t prologue[SYNC_NOISE_PROLOGUE_MAX];
    size_t prologue_len;
    uint8_t payload[VEC_MSGS][VEC_BYTES], ct[VEC_MSGS][VEC_BYTES];
    size_t payload_len[VEC_MSGS], ct_len[VEC_MSGS];
    bool has_payload[VEC_MSGS], has_ct[VEC_MSGS];
} vec_case;

static int unhex_digit(char c)
{
    const char *digits = "0123456789abcdef", *p = c != '\0' ? strchr(digits, c | 0x20) : NULL;
    return p != NULL ? (int)(p - digits) : -1;
}

static void unhex(const char *s, uint8_t *out, size_t cap, size_t *len, int line)
{
    size_t n = strlen(s);
    ck_assert_msg(n % 2 == 0 && n / 2 <= cap, "vectors line %d: bad hex length %zu", line, n);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = unhex_digit(s[2 * i]), lo = unhex_digit(s[2 * i + 1]);
        ck_assert_msg(hi >= 0 && lo >= 0, "vectors line %d: bad hex", line);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
}

static void unhex32(const char *s, uint8_t out[32], bool *have, int line)
{
    size_t len = 0;
    unhex(s, out, 32, &len, line);
    ck_assert_msg(len == 32, "vectors line %d: key is %zu bytes", line, len);
    if (have != NULL)
        *have = true;
}

static void vec_run(const vec_case *v)
{
    for (int i = 0; i < 4; i++)
        ck_assert_msg(v->has_keys[i], "vector at line %d lacks a key", v->line);
    int nmsgs = 0;
    while (nmsgs < VEC_MSGS && v->has_ct[nmsgs]) {
        ck_assert_msg(v->has_payload[nmsgs], "vector at line %d: msg %d", v->line, nmsgs);
        nmsgs++;
    }
    ck_assert_msg(nmsgs >= 3, "vector at line %d has %d messages", v->line, nmsgs);

    side sd[2];
    const uint8_t *ssk[2] = {v->init_static, v->resp_static};
    const uint8_t *esk[2] = {v->init_eph, v->resp_eph};
    for (int i = 0; i < 2; i++) {
        uint8_t epk[32];
        memcpy(sd[i].sk, ssk[i], 32);
        ck_assert(sync_noise_pk_of(sd[i].pk, sd[i].sk, NULL) == 0);
        ck_assert(sync_noise_pk_of(epk, esk[i], NULL) == 0);
        sync_noise_init(&sd[i].hs, i == 0, v->prologue, v->prologue_len, sd[i].sk, sd[i].pk);
        sync_noise_fix_ephemeral(&sd[i].hs, esk[i], epk);
    }
    static uint8_t out[SYNC_NOISE_MSG_MAX], got[SYNC_NOISE_MSG_MAX];
    for (int m = 0; m < 3; m++) {
        side *w = &sd[m % 2], *r = &sd[1 - m % 2];
        size_t len = 0, got_len = 0;
        sn_err err = SN_ERR_INIT;
        ck_assert_msg(sync_noise_write(&w->hs, v->payload[m], v->payload_len[m], out, sizeof out,
                                       &len, &err) == 0, "line %d msg %d: %s", v->line, m, err.msg);
        ck_assert_msg(len == v->ct_len[m] && memcmp(out, v->ct[m], len) == 0,
                      "vector at line %d: msg_%d_ciphertext differs", v->line, m);
        ck_assert_msg(sync_noise_read(&r->hs, out, len, got, sizeof got, &got_len, &err) == 0,
                      "line %d msg %d: %s", v->line, m, err.msg);
        ck_assert(got_len == v->payload_len[m] && memcmp(got, v->payload[m], got_len) == 0);
    }
    for (int i = 0; i < 2; i++) {
        const uint8_t *rs = sync_noise_remote_static(&sd[i].hs);
        ck_assert(rs != NULL && memcmp(rs, sd[1 - i].pk, 32) == 0);
    }
    uint8_t k[2][2][32], h[2][32];
    for (int i = 0; i < 2; i++)
        ck_assert(sync_noise_split(&sd[i].hs, k[i][0], k[i][1], h[i], NULL) == 0);
    ck_assert(memcmp(k[0], k[1], sizeof k[0]) == 0 && memcmp(h[0], h[1], 32) == 0);
    if (v->has_hash)
        ck_assert_msg(memcmp(h[0], v->hash, 32) == 0, "vector at line %d: hash", v->line);
    /* After the handshake the messages alternate initiator->responder, responder->initiator,
     * each direction's nonce counting from 0 (as flynn/noise's generator writes them). */
    uint64_t nonce[2] = {0, 0};
    for (int m = 3; m < nmsgs; m++) {
        int dir = (m - 3) % 2;
        sync_aead_encrypt(out, k[0][dir], nonce[dir], NULL, 0, v->payload[m], v->payload_len[m]);
        ck_assert_msg(v->ct_len[m] == v->payload_len[m] + SYNC_AEAD_TAG_LEN &&
                      memcmp(out, v->ct[m], v->ct_len[m]) == 0,
                      "vector at line %d: msg_%d_ciphertext (transport) differs", v->line, m);
        ck_assert(sync_aead_decrypt(got, k[1][dir], nonce[dir], NULL, 0, out, v->ct_len[m]) == 0);
        ck_assert(memcmp(got, v->payload[m], v->payload_len[m]) == 0);
        nonce[dir]++;
    }
}

/* A finished case runs only when it is exactly our protocol (no PSK variants). */
static int vec_finish(vec_case *v)
{
    int ran = 0;
    if (v->line > 0 && strcmp(v->name, XX_NAME) == 0 && !v->has_psk) {
        vec_run(v);
        ran = 1;
    }
    memset(v, 0, sizeof *v);
    return ran;
}

static void vec_field(vec_case *v, const char *key, const char *val, int line)
{
    size_t len = 0;
    unsigned long m = 0;
    char *end = NULL;
    if (strcmp(key, "init_static") == 0) {
        unhex32(val, v->init_static, &v->has_keys[0], line);
    } else if (strcmp(key, "resp_static") == 0) {
        unhex32(val, v->resp_static, &v->has_keys[1], line);
    } else if (strcmp(key, "gen_init_ephemeral") == 0) {
        unhex32(val, v->init_eph, &v->has_keys[2], line);
    } else if (strcmp(key, "gen_resp_ephemeral") == 0) {
        unhex32(val, v->resp_eph, &v->has_keys[3], line);
    } else if (strcmp(key, "prologue") == 0) {
        unhex(val, v->prologue, sizeof v->prologue, &v->prologue_len, line);
    } else if (strcmp(key, "handshake_hash") == 0) {
        unhex32(val, v->hash, &v->has_hash, line);
    } else if (strncmp(key, "preshared_key", 13) == 0 || strncmp(key, "psk", 3) == 0) {
        v->has_psk = true;
    } else if (strncmp(key, "msg_", 4) == 0 && (m = strtoul(key + 4, &end, 10), end != key + 4)) {
        ck_assert_msg(m < VEC_MSGS, "vectors line %d: message %lu", line, m);
        if (strcmp(end, "_payload") == 0) {
            unhex(val, v->payload[m], VEC_BYTES, &len, line);
            v->payload_len[m] = len;
            v->has_payload[m] = true;
        } else if (strcmp(end, "_ciphertext") == 0) {
            unhex(val, v->ct[m], VEC_BYTES, &len, line);
            v->ct_len[m] = len;
            v->has_ct[m] = true;
        }
    }
    /* Anything else (resp_ephemeral for other patterns, comments) does not apply to XX. */
}

START_TEST(test_noise_matches_flynn_vectors)
{
    const char *path = getenv("SN_NOISE_VECTORS");
    if (path == NULL || *path == '\0')
        path = VEC_DEFAULT_PATH;
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open Noise test vectors '%s': %s; install Debian's "
                  "golang-github-flynn-noise-dev (scripts/install-deps does)", path,
                  strerror(errno));
    static vec_case v;
    memset(&v, 0, sizeof v);
    static char line[8192];
    int lineno = 0, ran = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        ck_assert_msg(n > 0 && (line[n - 1] == '\n' || feof(f)), "vectors line %d too long",
                      lineno);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *eq = strchr(line, '=');
        if (n == 0 || line[0] == '#' || eq == NULL) {
            ran += vec_finish(&v);
            continue;
        }
        *eq = '\0';
        if (strcmp(line, "handshake") == 0) {
            ran += vec_finish(&v);
            v.line = lineno;
            snprintf(v.name, sizeof v.name, "%s", eq + 1);
        } else if (v.line > 0) {
            vec_field(&v, line, eq + 1, lineno);
        }
    }
    ran += vec_finish(&v);
    fclose(f);
    ck_assert_msg(ran > 0, "no %s cases without PSK in '%s'", XX_NAME, path);
}
END_TEST

/* ---- 2. live interop with python3-dissononce ------------------------------------------- */

#define PEER_SCRIPT "tests/interop/noise_peer.py" /* relative to the repository root */
#define ECHOES 3
#define C_FAR_NONCE UINT64_C(0x0102030405060708)
#define PEER_FAR_NONCE UINT64_C(0x0807060504030201)

/* Start the peer on one end of a socket pair (stdin and stdout both); returns our end. Debian's
 * /usr/bin/python3 first: python3-dissononce is installed for it, and a python3 earlier on
 * PATH (pyenv, a venv) may not see it. */
static int peer_start(const char *role, pid_t *pid)
{
    int sv[2];
    ck_assert_msg(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s",
                  strerror(errno));
    *pid = fork();
    ck_assert_msg(*pid >= 0, "fork: %s", strerror(errno));
    if (*pid == 0) {
        if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
            _exit(127);
        const char *py = getenv("SN_PYTHON3");
        if (py == NULL || *py == '\0')
            py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
        execlp(py, py, PEER_SCRIPT, role, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    struct timeval tv = {.tv_sec = 30};
    ck_assert(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    return sv[0];
}

static void peer_send(int fd, const uint8_t *p, size_t n)
{
    ck_assert(n <= 0xFFFF);
    uint8_t frame[2 + SYNC_NOISE_MSG_MAX];
    frame[0] = (uint8_t)(n >> 8);
    frame[1] = (uint8_t)n;
    memcpy(frame + 2, p, n);
    ck_assert_msg(send(fd, frame, n + 2, MSG_NOSIGNAL) == (ssize_t)(n + 2),
                  "sending to noise_peer.py: %s", strerror(errno));
}

static void read_all(int fd, uint8_t *p, size_t n, const char *what)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = recv(fd, p + got, n - got, 0);
        ck_assert_msg(r > 0, "noise_peer.py stopped before %s (%s; see its stderr; is "
                      "python3-dissononce installed? scripts/install-deps installs it)", what,
                      r == 0 ? "end of stream" : strerror(errno));
        got += (size_t)r;
    }
}

static size_t peer_recv(int fd, uint8_t *p, size_t cap, const char *what)
{
    uint8_t len[2];
    read_all(fd, len, 2, what);
    size_t n = (size_t)len[0] << 8 | len[1];
    ck_assert_msg(n <= cap, "%s: %zu-byte frame", what, n);
    read_all(fd, p, n, what);
    return n;
}

static void interop(bool c_initiator)
{
    const char *me = c_initiator ? "initiator" : "responder";
    const char *them = c_initiator ? "responder" : "initiator";
    pid_t pid;
    int fd = peer_start(them, &pid);
    static uint8_t buf[SYNC_NOISE_MSG_MAX], got[SYNC_NOISE_MSG_MAX];
    uint8_t peer_pk[32];
    ck_assert_uint_eq(peer_recv(fd, peer_pk, sizeof peer_pk, "its static key"), 32);

    side c;
    side_init(&c, c_initiator);
    for (int num = 1; num <= 3; num++) {
        char pl[32];
        size_t len = 0;
        sn_err err = SN_ERR_INIT;
        if ((num % 2 == 1) == c_initiator) {
            int pn = snprintf(pl, sizeof pl, "%s payload %d", me, num);
            ck_assert_msg(sync_noise_write(&c.hs, (const uint8_t *)pl, (size_t)pn, buf,
                                           sizeof buf, &len, &err) == 0, "%s", err.msg);
            peer_send(fd, buf, len);
        } else {
            size_t n = peer_recv(fd, buf, sizeof buf, "a handshake message");
            ck_assert_msg(sync_noise_read(&c.hs, buf, n, got, sizeof got, &len, &err) == 0,
                          "C %s reading message %d: %s", me, num, err.msg);
            int pn = snprintf(pl, sizeof pl, "%s payload %d", them, num);
            ck_assert(len == (size_t)pn && memcmp(got, pl, len) == 0);
        }
        /* The peer's static key arrives in message 2 (to the initiator) or 3. */
        bool revealed = num >= (c_initiator ? 2 : 3);
        const uint8_t *rs = sync_noise_remote_static(&c.hs);
        ck_assert(revealed ? rs != NULL && memcmp(rs, peer_pk, 32) == 0 : rs == NULL);
    }
    ck_assert(sync_noise_is_done(&c.hs));
    uint8_t k[2][32], h[32];
    ck_assert(sync_noise_split(&c.hs, k[0], k[1], h, NULL) == 0);
    const uint8_t *ksend = k[c_initiator ? 0 : 1], *krecv = k[c_initiator ? 1 : 0];

    for (int i = 0; i <= ECHOES; i++) {
        uint64_t n_send = i < ECHOES ? (uint64_t)i : C_FAR_NONCE;
        uint64_t n_recv = i < ECHOES ? (uint64_t)i : PEER_FAR_NONCE;
        char pt[64];
        int pn = snprintf(pt, sizeof pt, "transport %d from the C %s", i, me);
        sync_aead_encrypt(buf, ksend, n_send, NULL, 0, (const uint8_t *)pt, (size_t)pn);
        peer_send(fd, buf, (size_t)pn + SYNC_AEAD_TAG_LEN);
        size_t n = peer_recv(fd, buf, sizeof buf, "the transport echo");
        ck_assert_uint_eq(n, (size_t)pn + SYNC_AEAD_TAG_LEN);
        ck_assert_msg(sync_aead_decrypt(got, krecv, n_recv, NULL, 0, buf, n) == 0,
                      "echo %d does not authenticate", i);
        for (int j = 0; j < pn; j++)
            ck_assert(got[j] == (uint8_t)pt[pn - 1 - j]);
    }
    ck_assert_uint_eq(peer_recv(fd, buf, sizeof buf, "its summary"), 64);
    ck_assert_msg(memcmp(buf, c.pk, 32) == 0, "the peer saw another static key");
    ck_assert_msg(memcmp(buf + 32, h, 32) == 0, "handshake hashes differ");
    close(fd);
    int status = 0;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "noise_peer.py failed (%d)",
                  status);
}

START_TEST(test_noise_interop_c_initiator) { interop(true); }
END_TEST

START_TEST(test_noise_interop_c_responder) { interop(false); }
END_TEST

/* ---- 3. hostile input and misuse -------------------------------------------------------- */

/* Fresh sides (static public keys replaced by i_spk / r_spk when not NULL) with the messages
 * before `num` passed between them, so message `num` is next. */
static void run_to(side *i, side *r, int num, const uint8_t *i_spk, const uint8_t *r_spk)
{
    side_init(i, true);
    side_init(r, false);
    if (i_spk != NULL)
        sync_noise_init(&i->hs, true, (const uint8_t *)PROLOGUE, PROLOGUE_LEN, i->sk, i_spk);
    if (r_spk != NULL)
        sync_noise_init(&r->hs, false, (const uint8_t *)PROLOGUE, PROLOGUE_LEN, r->sk, r_spk);
    uint8_t m[PASS_CAP];
    size_t len;
    for (int k = 1; k < num; k++)
        pass(k % 2 ? i : r, k % 2 ? r : i, m, &len);
}

static void write_next(side *w, uint8_t m[PASS_CAP], size_t *len)
{
    sn_err err = SN_ERR_INIT;
    ck_assert_msg(sync_noise_write(&w->hs, (const uint8_t *)"last", 4, m, PASS_CAP, len, &err) == 0,
                  "%s", err.msg);
}

/* Reading msg must fail with `code` and a message containing `needle` (if not NULL), give no
 * payload bytes, and leave the state dead. */
static void read_fails(sync_noise *hs, const uint8_t *msg, size_t n, size_t cap, int code,
                       const char *needle)
{
    uint8_t got[64];
    size_t got_len = 99;
    sn_err err = SN_ERR_INIT;
    ck_assert(cap <= sizeof got);
    int rc = sync_noise_read(hs, msg, n, got, cap, &got_len, &err);
    ck_assert_msg(rc == code, "read of %zu bytes gave %d (%s), expected %d", n, rc, err.msg, code);
    ck_assert(got_len == 0 && all_zero(got, cap));
    ck_assert_msg(needle == NULL || strstr(err.msg, needle) != NULL, "%s", err.msg);
    assert_dead(hs);
}

START_TEST(test_noise_refuses_any_flipped_bit_in_msg2_and_msg3)
{
    for (int num = 2; num <= 3; num++) {
        side i, r;
        uint8_t m[PASS_CAP], bad[PASS_CAP], got[64];
        size_t len, got_len;
        run_to(&i, &r, num, NULL, NULL);
        write_next(num == 2 ? &r : &i, m, &len);
        sync_noise *reader = num == 2 ? &i.hs : &r.hs;
        char want[32];
        snprintf(want, sizeof want, "message %d", num);
        for (size_t bit = 0; bit < len * 8; bit++) {
            sync_noise hs = *reader; /* a copy is a snapshot: no heap inside */
            memcpy(bad, m, len);
            bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            read_fails(&hs, bad, len, sizeof got, SN_EAUTH, want);
        }
        ck_assert(sync_noise_read(reader, m, len, got, sizeof got, &got_len, NULL) == 0);
    }
}
END_TEST

START_TEST(test_noise_refuses_messages_of_the_wrong_size)
{
    static uint8_t big[SYNC_NOISE_MSG_MAX + 1];
    struct { int num; size_t n, cap; } cases[] = {
        {1, 0, 0}, {1, 31, 0}, {1, 33, 0}, {1, 40, 7}, {1, SYNC_NOISE_MSG_MAX + 1, 64},
        {2, 95, 64}, {2, 0, 64}, {3, 63, 64}, {3, 64 + 65, 64},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        side i, r;
        run_to(&i, &r, cases[c].num, NULL, NULL);
        read_fails(cases[c].num == 2 ? &i.hs : &r.hs, big, cases[c].n, cases[c].cap, SN_EPROTO,
                   "message");
    }
}
END_TEST

/* Points whose X25519 product with any clamped scalar is zero: 0, 1, the two points of order
 * 8, p-1, p, p+1 (p = 2^255 - 19), and 0 and 1 with the ignored top bit set. */
static const char *const low_order_hex[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000080",
};
#define LOW_ORDER_POINTS (int)(sizeof low_order_hex / sizeof low_order_hex[0])

START_TEST(test_noise_refuses_low_order_keys)
{
    uint8_t lo[32], out[32], m[PASS_CAP];
    size_t len;
    unhex32(low_order_hex[_i], lo, NULL, 0);
    side i, r;
    run_to(&i, &r, 1, NULL, NULL);
    ck_assert_int_eq(sync_noise_dh(out, i.sk, lo), SN_EAUTH);
    ck_assert(all_zero(out, 32));
    ck_assert_int_eq(sync_noise_pk_check(lo), SN_EAUTH);
    ck_assert_int_eq(sync_noise_pk_check(i.pk), 0);

    /* The initiator's ephemeral (message 1) is refused as it is read, before any DH. */
    read_fails(&r.hs, lo, 32, 0, SN_EAUTH, "low-order ephemeral public key in message 1");
    /* The responder's ephemeral (message 2). */
    run_to(&i, &r, 2, NULL, NULL);
    write_next(&r, m, &len);
    memcpy(m, lo, 32);
    read_fails(&i.hs, m, len, 64, SN_EAUTH, "low-order ephemeral public key in message 2");
    /* A responder that encrypts a low-order "static public key" (message 2). */
    run_to(&i, &r, 2, NULL, lo);
    write_next(&r, m, &len);
    read_fails(&i.hs, m, len, 64, SN_EAUTH, "low-order static public key in message 2");
    /* The same from an initiator (message 3). */
    run_to(&i, &r, 3, lo, NULL);
    write_next(&i, m, &len);
    read_fails(&r.hs, m, len, 64, SN_EAUTH, "low-order static public key in message 3");
    /* A bad key that reaches the responder's write (state edited past the read check). */
    run_to(&i, &r, 2, NULL, NULL);
    memcpy(r.hs.re, lo, 32);
    sn_err err = SN_ERR_INIT;
    memset(m, 0xEE, sizeof m);
    ck_assert_int_eq(sync_noise_write(&r.hs, NULL, 0, m, sizeof m, &len, &err), SN_EAUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "low-order"));
    ck_assert(len == 0 && all_zero(m, SYNC_NOISE_MSG2_FIXED));
    assert_dead(&r.hs);
}
END_TEST

START_TEST(test_noise_refuses_calls_out_of_turn)
{
    side i, r;
    uint8_t m[PASS_CAP];
    size_t len;
    sn_err err = SN_ERR_INIT;
    run_to(&i, &r, 1, NULL, NULL);
    /* Writing out of turn, or too much, or into too small a buffer, fails and changes
     * nothing: the handshake then completes. */
    ck_assert_int_eq(sync_noise_write(&r.hs, NULL, 0, m, sizeof m, &len, &err), SN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "initiator's to write"));
    ck_assert_int_eq(sync_noise_write(&i.hs, NULL, 0, m, 31, &len, NULL), SN_EINVAL);
    static uint8_t huge[SYNC_NOISE_MSG_MAX];
    ck_assert_int_eq(sync_noise_write(&i.hs, huge, SYNC_NOISE_MSG_MAX - 31, m, sizeof m, &len,
                                      NULL), SN_ETOOBIG);
    pass(&i, &r, m, &len);
    ck_assert_int_eq(sync_noise_write(&i.hs, NULL, 0, m, sizeof m, &len, NULL), SN_EINVAL);
    pass(&r, &i, m, &len);
    pass(&i, &r, m, &len);
    ck_assert(sync_noise_is_done(&i.hs) && sync_noise_is_done(&r.hs));
    ck_assert_int_eq(sync_noise_write(&i.hs, NULL, 0, m, sizeof m, &len, NULL), SN_EINVAL);
    /* Reading out of turn is refused, and (like every read failure) ends the handshake. */
    run_to(&i, &r, 1, NULL, NULL);
    read_fails(&i.hs, m, 32, 64, SN_EINVAL, "responder's to read");
    /* A zero-filled state is dead, not a fresh handshake. */
    sync_noise zero;
    memset(&zero, 0, sizeof zero);
    assert_dead(&zero);
}
END_TEST

START_TEST(test_noise_split_wipes_and_remote_static_waits_for_authentication)
{
    side i, r;
    uint8_t m[PASS_CAP], k[2][2][32], h[2][32];
    size_t len;
    run_to(&i, &r, 1, NULL, NULL);
    ck_assert_ptr_null(sync_noise_remote_static(&i.hs));
    pass(&i, &r, m, &len);
    ck_assert_ptr_null(sync_noise_remote_static(&i.hs));
    ck_assert_ptr_null(sync_noise_remote_static(&r.hs));
    ck_assert_int_eq(sync_noise_split(&i.hs, k[0][0], k[0][1], h[0], NULL), SN_EINVAL);
    pass(&r, &i, m, &len);
    ck_assert(memcmp(sync_noise_remote_static(&i.hs), r.pk, 32) == 0);
    ck_assert_ptr_null(sync_noise_remote_static(&r.hs));
    pass(&i, &r, m, &len);
    ck_assert(memcmp(sync_noise_remote_static(&r.hs), i.pk, 32) == 0);
    side *s[2] = {&i, &r};
    for (int x = 0; x < 2; x++) {
        sync_noise *hs = &s[x]->hs;
        ck_assert(sync_noise_split(hs, k[x][0], k[x][1], h[x], NULL) == 0);
        ck_assert(all_zero(hs->ck, 32) && all_zero(hs->h, 32) && all_zero(hs->k, 32));
        ck_assert(all_zero(hs->s_sk, 32) && all_zero(hs->e_sk, 32) && all_zero(hs->re, 32));
        ck_assert(sync_noise_is_done(hs));
        ck_assert(memcmp(sync_noise_remote_static(hs), s[1 - x]->pk, 32) == 0);
        sn_err err = SN_ERR_INIT;
        ck_assert_int_eq(sync_noise_split(hs, k[x][0], k[x][1], h[x], &err), SN_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "already"));
        ck_assert_int_eq(sync_noise_write(hs, NULL, 0, m, sizeof m, &len, NULL), SN_EINVAL);
    }
    ck_assert(memcmp(k[0], k[1], sizeof k[0]) == 0 && memcmp(h[0], h[1], 32) == 0);
    ck_assert(memcmp(k[0][0], k[0][1], 32) != 0);
    sync_noise_wipe(&i.hs);
    assert_dead(&i.hs);
    sync_noise_wipe(NULL);
}
END_TEST

/* The wrappers against published vectors: FIPS 180-2 "abc", RFC 4231 cases 1 and 6. */
START_TEST(test_noise_primitives_match_published_vectors)
{
    uint8_t abc[32], hmac1[32], hmac6[32];
    unhex32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", abc, NULL, 0);
    unhex32("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", hmac1, NULL, 0);
    unhex32("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", hmac6, NULL, 0);
    uint8_t out[32], key[131];
    sync_sha256(out, (const uint8_t *)"abc", 3);
    ck_assert(memcmp(out, abc, 32) == 0);
    sync_sha256_2(out, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2);
    ck_assert(memcmp(out, abc, 32) == 0);
    memset(key, 0x0b, 20);
    sync_hmac_sha256(out, key, 20, (const uint8_t *)"Hi ", 3, (const uint8_t *)"There", 5);
    ck_assert(memcmp(out, hmac1, 32) == 0);
    memset(key, 0xaa, sizeof key);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    sync_hmac_sha256(out, key, sizeof key, (const uint8_t *)t6, strlen(t6), NULL, 0);
    ck_assert(memcmp(out, hmac6, 32) == 0);
    /* AEAD: a tag shorter than 16 bytes or a wrong nonce fails and leaves zeros. */
    uint8_t k[32] = {1}, ct[20], pt[4] = {9, 9, 9, 9};
    sync_aead_encrypt(ct, k, 7, NULL, 0, (const uint8_t *)"data", 4);
    ck_assert_int_eq(sync_aead_decrypt(pt, k, 8, NULL, 0, ct, sizeof ct), SN_EAUTH);
    ck_assert(all_zero(pt, 4));
    ck_assert_int_eq(sync_aead_decrypt(pt, k, 7, NULL, 0, ct, 15), SN_EAUTH);
    ck_assert_int_eq(sync_aead_decrypt(pt, k, 7, NULL, 0, ct, sizeof ct), 0);
    ck_assert(memcmp(pt, "data", 4) == 0);
}
END_TEST

Suite *sync_noise_suite(void);
Suite *sync_noise_suite(void)
{
    Suite *s = suite_create("sync_noise_suite");
    TCase *tc = tcase_create("vectors");
    tcase_add_test(tc, test_noise_matches_flynn_vectors);
    tcase_add_test(tc, test_noise_primitives_match_published_vectors);
    suite_add_tcase(s, tc);
    tc = tcase_create("interop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_noise_interop_c_initiator);
    tcase_add_test(tc, test_noise_interop_c_responder);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_noise_refuses_any_flipped_bit_in_msg2_and_msg3);
    tcase_add_test(tc, test_noise_refuses_messages_of_the_wrong_size);
    tcase_add_loop_test(tc, test_noise_refuses_low_order_keys, 0, LOW_ORDER_POINTS);
    tcase_add_test(tc, test_noise_refuses_calls_out_of_turn);
    tcase_add_test(tc, test_noise_split_wipes_and_remote_static_waits_for_authentication);
    suite_add_tcase(s, tc);
    return s;
}
