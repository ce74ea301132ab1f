/* crdt/hlc.h - hybrid logical clock: 48-bit milliseconds and a 16-bit counter in one u64.
 * Pure: the caller passes wall time in, and persists `last`. */
#ifndef SN_CRDT_HLC_H
#define SN_CRDT_HLC_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t crdt_hlc;

#define CRDT_HLC_MS(h) ((uint64_t)(h) >> 16)
#define CRDT_HLC_COUNTER(h) ((uint16_t)((h) & 0xffffu))
#define CRDT_HLC_MAKE(ms, counter) (((uint64_t)(ms) << 16) | (uint16_t)(counter))
/* Default for how far ahead of our corrected wall clock a remote time may be. */
#define CRDT_HLC_DEFAULT_MAX_SKEW_MS (5u * 60u * 1000u)

typedef struct crdt_clock {
    crdt_hlc last;        /* highest time issued or observed; persisted by the caller */
    uint64_t max_skew_ms; /* remote times further ahead than this are not observed */
} crdt_clock;

/* Start from the persisted high-water mark, so the clock never runs backwards across
 * restarts, whatever the wall clock says. */
void crdt_clock_init(crdt_clock *c, crdt_hlc persisted_last, uint64_t max_skew_ms);

/* A local event at wall time `wall_ms`: returns a time strictly greater than every time
 * issued or observed before. When the wall clock is behind, the counter advances; a
 * counter overflow advances the millisecond part (never stalls). */
crdt_hlc crdt_clock_tick(crdt_clock *c, uint64_t wall_ms);

/* True when `remote` is more than max_skew_ms ahead of `wall_ms`. */
bool crdt_clock_is_skewed(const crdt_clock *c, crdt_hlc remote, uint64_t wall_ms);

/* Merge a remote time: later local events sort after it. A skewed remote time (above) is
 * not merged and the function returns false, so a far-future clock never drags ours. */
bool crdt_clock_observe(crdt_clock *c, crdt_hlc remote, uint64_t wall_ms);

#endif
