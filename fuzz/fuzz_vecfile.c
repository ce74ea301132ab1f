/* fuzz/fuzz_vecfile.c - vector files (node/logfile.c: node_vecfile_read), the text a
 * peer hands over to say what it holds before a log file is exported for it.
 *
 * Input: the file's bytes, written to a temporary file and read.
 * Checks: a refusal says why; an accepted vector passes crdt_vv_check, and its text form
 * (node_vector_format) reads back as the same vector. */
#include "fuzz/fuzz_common.h"
#include "node/logfile.h"

static int read_vector(const uint8_t *p, size_t n, crdt_vv *vv)
{
    const char *path = fuzz_path("held.vec");
    fuzz_write_file(path, p, n);
    sn_err err = SN_ERR_INIT;
    int rc = node_vecfile_read(vv, path, &err);
    fuzz_check_err(rc, &err, "node_vecfile_read");
    if (rc == 0 && crdt_vv_check(vv, &err) != 0)
        fuzz_fail("a vector read from a file fails its check: %s", err.msg);
    return rc;
}

static void read_twice(fuzz_in *in)
{
    crdt_vv vv, again;
    crdt_vv_init(&vv);
    crdt_vv_init(&again);
    if (read_vector(in->p, in->n, &vv) == 0) {
        sn_buf text;
        sn_buf_init(&text, (size_t)64 << 20);
        sn_err err = SN_ERR_INIT;
        if (node_vector_format(&vv, &text, &err) != 0)
            fuzz_fail("a vector read from a file does not format: %s", err.msg);
        if (read_vector(text.data, text.len, &again) != 0 || !crdt_vv_equal(&vv, &again))
            fuzz_fail("a vector's text form does not read back as the same vector");
        sn_buf_free(&text);
    }
    crdt_vv_free(&vv);
    crdt_vv_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {read_twice};
    return fuzz_run(data, size, modes, 1, "fuzz_vecfile");
}
