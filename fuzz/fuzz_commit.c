/* fuzz/fuzz_commit.c - the commit body decoder (schema/codec.c: schema_commit_decode and
 * schema_commit_peek, over schema/mpcursor.c and schema/codec_value.c) and the check of a
 * foreign commit against this build's schema (schema_commit_check).
 *
 * Input: one commit body as a peer or a log file delivers it (after its unit verified).
 * Checks (fuzz_commit_body): failures say why; peek agrees with decode; a decoded commit
 * that encodes again decodes to one that encodes to the same bytes. Dictionary:
 * fuzz/commit.dict (msgpack markers). */
#include "fuzz/fuzz_common.h"

static void body(fuzz_in *in) { fuzz_commit_body(in->p, in->n); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {body};
    return fuzz_run(data, size, modes, 1, "fuzz_commit");
}
