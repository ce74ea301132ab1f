/* base/alloc.c - allocation through one door, with the countdown fault injector and the
 * crash countdown of kill tests.
 *
 * In SN_TESTABLE builds every block carries a 16-byte header so sn_free can keep a live
 * count; release builds call libc directly. */
#include "base/alloc.h"

#include <assert.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef SN_TESTABLE
static struct {
    sn_fault_kind kind;
    long countdown;
    int repeat;
    bool fired;
    int benign;
} fault;
static long live_blocks;
static struct {
    long at;   /* the hit that kills; < 0: none */
    long hits; /* since the last sn_crash_arm */
} crash = {.at = -1};

void sn_crash_arm(long n)
{
    crash.at = n;
    crash.hits = 0;
}

long sn_crash_hits(void) { return crash.hits; }

void sn_fault_arm(sn_fault_kind kind, long n, int repeat)
{
    fault.kind = kind;
    fault.countdown = n;
    fault.repeat = repeat;
    fault.fired = false;
}

bool sn_fault_disarm(void)
{
    bool fired = fault.fired;
    fault.kind = 0;
    fault.fired = false;
    return fired;
}

bool sn_fault_hit(sn_fault_kind kind)
{
    if (crash.hits++ == crash.at)
        raise(SIGKILL);
    if (fault.kind != kind || fault.kind == 0)
        return false;
    if (fault.countdown > 0) {
        fault.countdown--;
        return false;
    }
    if (fault.repeat == 0)
        return false;
    if (fault.repeat > 0)
        fault.repeat--;
    if (fault.benign == 0)
        fault.fired = true;
    return true;
}

void sn_fault_benign_begin(void) { fault.benign++; }
void sn_fault_benign_end(void) { fault.benign--; }
long sn_alloc_live(void) { return live_blocks; }

#define HDR 16
void *sn_malloc(size_t n)
{
    if (sn_fault_hit(SN_FAULT_ALLOC) || n > SIZE_MAX - HDR)
        return NULL;
    unsigned char *p = malloc(n + HDR);
    if (p == NULL)
        return NULL;
    live_blocks++;
    return p + HDR;
}

void *sn_realloc(void *p, size_t n)
{
    assert(n > 0);
    if (p == NULL)
        return sn_malloc(n);
    if (sn_fault_hit(SN_FAULT_ALLOC) || n > SIZE_MAX - HDR)
        return NULL;
    unsigned char *q = realloc((unsigned char *)p - HDR, n + HDR);
    return q == NULL ? NULL : q + HDR;
}

void sn_free(void *p)
{
    if (p == NULL)
        return;
    live_blocks--;
    free((unsigned char *)p - HDR);
}
#else
void *sn_malloc(size_t n) { return malloc(n == 0 ? 1 : n); }
void *sn_realloc(void *p, size_t n)
{
    assert(n > 0);
    return realloc(p, n);
}
void sn_free(void *p) { free(p); }
#endif

void *sn_calloc(size_t count, size_t size)
{
    void *p = sn_mallocarray(count, size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *sn_mallocarray(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n))
        return NULL;
    return sn_malloc(n);
}

char *sn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sn_malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}
