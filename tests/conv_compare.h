/* tests/conv_compare.h - the convergence suite's verdicts: a writer's store against the
 * reference model (tests/refmodel.h) of the commits it holds, cell by cell, and the final
 * agreement of every writer after the full exchange. A failed check records its message
 * with conv_fail (seed, c->phase, what diverged) and returns false. */
#ifndef SN_TESTS_CONV_COMPARE_H
#define SN_TESTS_CONV_COMPARE_H

#include <stdbool.h>

#include "tests/conv_world.h"

/* Right after a partial delivery in round `round`: store wi shows exactly what the model
 * derives from the commits it holds (its export), passes node_store_check, and its open
 * conflicts match. Counts the check and the rows known only from sets in c->local. */
bool conv_check_midway(conv_world *c, int wi, int round);

/* After conv_world_exchange_all gathered `all` (the commits that must apply): every store
 * passes node_store_check and has the same digest; every cell, open conflict, row and
 * canonical patient id equals the model's (digest_only writers: the open conflicts); the
 * waiting count is each writer's `stuck`; and rematerializing every row of one store, then
 * three random rows of another, leaves the digest unchanged. Retired writers are skipped.
 * Adds the model's concurrency statistics to c->local. */
bool conv_check_final(conv_world *c, const conv_bodies *all);

#endif
