/* tests/support.c - shared test helpers (see support.h). */
#include "tests/support.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void test_rng_seed(test_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint64_t test_rng_next(test_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t test_rng_below(test_rng *r, uint32_t n) { return (uint32_t)(test_rng_next(r) % n); }

void test_rng_bytes(test_rng *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)test_rng_next(r);
}

void *test_shared_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

uint64_t test_clock_now(void *ctx) { return ((test_clock *)ctx)->ms; }

static char *tmpdir_under(const char *base)
{
    size_t n = strlen(base) + 32;
    char *path = malloc(n);
    ck_assert_ptr_nonnull(path);
    snprintf(path, n, "%s/outpost-test-XXXXXX", base);
    ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp failed");
    return path;
}

char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    return tmpdir_under(base != NULL && base[0] != '\0' ? base : "/tmp");
}

char *test_tmpdir_mem(void)
{
    const char *base = getenv("TMPDIR");
    struct stat sb;
    if ((base == NULL || base[0] == '\0') && stat("/dev/shm", &sb) == 0 &&
        S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
        return tmpdir_under("/dev/shm");
    return test_tmpdir();
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

node_store *test_store_new(const char *parent, const char *name, test_clock *clock)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", parent, name);
    /* The instance tokens go to `parent` too, never to the user's own state directory. */
    node_open_opts opts = {.now_ms = test_clock_now, .now_ctx = clock,
                           .durability = NODE_FAST, .state_dir = parent};
    sn_err err = SN_ERR_INIT;
    int rc = node_store_create(dir, name, &opts, &err);
    ck_assert_msg(rc == 0, "create %s: %s", dir, err.msg);
    node_store *st = NULL;
    rc = node_store_open(&st, dir, &opts, &err);
    ck_assert_msg(rc == 0, "open %s: %s", dir, err.msg);
    return st;
}
