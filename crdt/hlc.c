/* crdt/hlc.c - the hybrid logical clock.
 *
 * A time is one u64: the wall clock in milliseconds in the top 48 bits and a counter in
 * the low 16, so comparing two times is comparing two integers. The clock keeps `last`,
 * the highest time it has issued or observed, and obeys:
 *
 *   monotone    tick(wall) > last, whatever wall says; last := that time
 *               next = max(last + 1, wall << 16)
 *               When the wall clock is behind `last`, the +1 advances the counter; when
 *               the counter is full, the same +1 carries into the millisecond part, so
 *               the clock runs slightly ahead of the wall instead of stalling.
 *   persistent  init(persisted_last) resumes from the stored high-water mark, so a
 *               restart with the wall clock set back never reissues a time.
 *   causal      observe(remote) makes every later tick > remote, so an event that saw
 *               a remote commit sorts after it.
 *   bounded     a remote time whose millisecond part is more than max_skew_ms ahead of
 *               our wall clock is not observed: one node with a clock in the future
 *               must not drag every other node's clock there (DESIGN.md §4).
 *
 * HLC order decides only the `latest` display rule; supersession is decided by causal
 * contexts (crdt/mv.c), never by clocks. */
#include "crdt/hlc.h"

/* The largest wall time the 48-bit millisecond part can hold. */
#define HLC_MS_MAX CRDT_HLC_MS(UINT64_MAX)

void crdt_clock_init(crdt_clock *c, crdt_hlc persisted_last, uint64_t max_skew_ms)
{
    c->last = persisted_last;
    c->max_skew_ms = max_skew_ms;
}

crdt_hlc crdt_clock_tick(crdt_clock *c, uint64_t wall_ms)
{
    /* Saturate rather than wrap: a wall clock past year 10889 must not read as 1970. */
    crdt_hlc wall = CRDT_HLC_MAKE(wall_ms > HLC_MS_MAX ? HLC_MS_MAX : wall_ms, 0);
    /* At UINT64_MAX no larger time exists; stay there rather than wrap to zero. */
    crdt_hlc next = c->last == UINT64_MAX ? UINT64_MAX : c->last + 1;
    if (wall > next)
        next = wall;
    c->last = next;
    return next;
}

bool crdt_clock_is_skewed(const crdt_clock *c, crdt_hlc remote, uint64_t wall_ms)
{
    /* ms > wall_ms + max_skew_ms, written so that neither side can overflow. */
    uint64_t ms = CRDT_HLC_MS(remote);
    return ms > wall_ms && ms - wall_ms > c->max_skew_ms;
}

bool crdt_clock_observe(crdt_clock *c, crdt_hlc remote, uint64_t wall_ms)
{
    if (crdt_clock_is_skewed(c, remote, wall_ms))
        return false;
    if (remote > c->last)
        c->last = remote;
    return true;
}
