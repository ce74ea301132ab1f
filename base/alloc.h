/* base/alloc.h - the one door for heap memory, with a countdown fault injector and
 * named fault points for tests (compiled in only when SN_TESTABLE is defined). */
#ifndef SN_BASE_ALLOC_H
#define SN_BASE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* All project allocation goes through these. Behave like the libc functions; sn_free(NULL)
 * is a no-op. sn_realloc(p, 0) is not allowed (assert). */
void *sn_malloc(size_t n);
void *sn_calloc(size_t count, size_t size);
void *sn_realloc(void *p, size_t n);
void sn_free(void *p);
char *sn_strdup(const char *s);
/* Allocate count*size bytes, NULL on overflow or failure. */
void *sn_mallocarray(size_t count, size_t size);

/* Fault kinds. Numbers are explicit and never reused. */
typedef enum sn_fault_kind {
    SN_FAULT_ALLOC = 1,      /* the n-th allocation fails */
    SN_FP_STORE_COMMIT = 2,  /* a store transaction commit fails as if the disk were full */
    SN_FP_FILE_WRITE = 3,    /* a file write is short */
    SN_FP_FILE_SYNC = 4,     /* fsync fails */
} sn_fault_kind;

#ifdef SN_TESTABLE
/* Arm `kind` to fail at the n-th hit from now (n = 0 is the next one). repeat 1 fails once;
 * repeat -1 fails every hit from then on. Only one kind is armed at a time. */
void sn_fault_arm(sn_fault_kind kind, long n, int repeat);
/* Disarm; returns true when at least one fault fired since arming. */
bool sn_fault_disarm(void);
/* Called at each fault point; true when this hit must fail. */
bool sn_fault_hit(sn_fault_kind kind);
/* Benign regions: allocations inside may fail without that counting as a fault. */
void sn_fault_benign_begin(void);
void sn_fault_benign_end(void);
/* Number of live blocks allocated through sn_malloc and friends (leak checks in tests). */
long sn_alloc_live(void);
/* Crash points for kill tests (tests/check_crash.c), apart from the fault above: the n-th
 * hit from now (n = 0 is the next one) of any fault point -- every allocation through
 * sn_malloc and friends, SQLite's included, and every named point, armed or not -- kills
 * this process with SIGKILL. n < 0 only counts. Either way the count of hits restarts at 0;
 * sn_crash_hits() is that count (a run measured unarmed tells where later kills can land). */
void sn_crash_arm(long n);
long sn_crash_hits(void);
#define SN_FAULT(kind) sn_fault_hit(kind)
#else
#define SN_FAULT(kind) false
static inline void sn_fault_benign_begin(void) {}
static inline void sn_fault_benign_end(void) {}
#endif

#endif
