/* fuzz/fuzz_config.c - the configuration file (node/config.c: node_config_load over
 * libinih, durations, line-length and section reporting).
 *
 * Input: the file's bytes, written to a temporary file and loaded over the defaults.
 * Checks: a refusal says why and leaves the configuration untouched; an accepted one
 * holds terminated strings, at most 8 hubs, a positive skew and a redial of at least 1 s.
 * Dictionary: fuzz/config.dict (sections, settings, units). */
#include <string.h>

#include "fuzz/fuzz_common.h"
#include "node/config.h"

static void check_string(const char *s, size_t cap, const char *what)
{
    if (strnlen(s, cap) == cap)
        fuzz_fail("configuration setting %s is not terminated", what);
}

static void load(fuzz_in *in)
{
    const char *path = fuzz_path("outpost.conf");
    fuzz_write_file(path, in->p, in->n);
    node_config c, defaults;
    node_config_defaults(&c);
    defaults = c;
    sn_err err = SN_ERR_INIT;
    int rc = node_config_load(&c, path, false, &err);
    fuzz_check_err(rc, &err, "node_config_load");
    if (rc != 0 && memcmp(&c, &defaults, sizeof c) != 0)
        fuzz_fail("a refused configuration changed the settings: %s", err.msg);
    if (rc == 0) {
        check_string(c.store, sizeof c.store, "store");
        check_string(c.name, sizeof c.name, "name");
        check_string(c.listen, sizeof c.listen, "listen");
        if (c.nhubs > sizeof c.hubs / sizeof c.hubs[0])
            fuzz_fail("%zu hubs were accepted", c.nhubs);
        for (size_t i = 0; i < c.nhubs; i++)
            check_string(c.hubs[i], sizeof c.hubs[i], "hub");
        if (c.max_skew_ms == 0 || c.retry_max_ms < 1000)
            fuzz_fail("durations %llu / %llu ms were accepted",
                      (unsigned long long)c.max_skew_ms, (unsigned long long)c.retry_max_ms);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_mode modes[] = {load};
    return fuzz_run(data, size, modes, 1, "fuzz_config");
}
