/* tests/check_main.c - runs every Check suite in one SRunner; non-zero exit on failure.
 * Select with CK_RUN_SUITE / CK_RUN_CASE; TAP output with CK_TAP_LOG_FILE_NAME. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/hash.h"
#include "tests/support.h"

/* Weak so a suite still being written does not break the build of the others; a missing
 * suite fails the run unless SN_ALLOW_MISSING_SUITES is set (development only). */
#define SUITES(X)                                                                          \
    X(base_core_suite)                                                                     \
    X(crdt_hlc_suite)                                                                      \
    X(crdt_vv_suite)                                                                       \
    X(crdt_mv_suite)                                                                       \
    X(schema_value_suite)                                                                  \
    X(schema_codec_suite)                                                                  \
    X(schema_hostile_suite)                                                                \
    X(sync_unit_suite)                                                                     \
    X(sync_frame_suite)                                                                    \
    X(node_store_suite)                                                                    \
    X(node_apply_suite)                                                                    \
    X(node_read_suite)                                                                     \
    X(node_files_suite)                                                                    \
    X(node_fault_suite)                                                                    \
    X(node_review_suite)                                                                   \
    X(node_trust_suite)                                                                    \
    X(node_ca_suite)                                                                       \
    X(node_units_suite)                                                                    \
    X(node_quarantine_suite)                                                               \
    X(node_equivocation_suite)                                                             \
    X(node_users_suite)                                                                    \
    X(node_audit_suite)                                                                    \
    X(node_history_suite)                                                                  \
    X(node_config_suite)                                                                   \
    X(node_status_render_suite)                                                            \
    X(node_http_suite)                                                                     \
    X(node_restore_suite)                                                                  \
    X(node_link_suite)                                                                     \
    X(node_link_attack_suite)                                                              \
    X(node_daemon_suite)                                                                   \
    X(link_fault_suite)                                                                    \
    X(schema_nhs_suite)                                                                    \
    X(sync_cert_suite)                                                                     \
    X(sync_crl_suite)                                                                      \
    X(sync_enroll_suite)                                                                   \
    X(sync_noise_suite)                                                                    \
    X(convergence_suite)                                                                   \
    X(sim_suite)                                                                           \
    X(node_bundle_suite)                                                                   \
    X(node_status_suite)                                                                   \
    X(crash_suite)

#define DECLARE(name) Suite *name(void) __attribute__((weak));
SUITES(DECLARE)

int main(void)
{
    if (sn_hash_init(NULL) != 0) {
        fprintf(stderr, "cannot initialise libsodium\n");
        return 1;
    }
    struct {
        const char *name;
        Suite *(*make)(void);
    } suites[] = {
#define ENTRY(name) {#name, name},
        SUITES(ENTRY)
    };
    int missing = 0;
    SRunner *sr = NULL;
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (suites[i].make == NULL) {
            fprintf(stderr, "check_main: suite %s is not linked in\n", suites[i].name);
            missing++;
            continue;
        }
        if (sr == NULL)
            sr = srunner_create(suites[i].make());
        else
            srunner_add_suite(sr, suites[i].make());
    }
    if (missing > 0 && getenv("SN_ALLOW_MISSING_SUITES") == NULL)
        return 1;
    if (sr == NULL)
        return 1;
    /* A store opened without a state directory of its own keeps its instance token in a
     * directory of this run, never in the user's ($OUTPOST_STATE_DIR wins over $HOME). */
    const char *tmp = getenv("TMPDIR");
    char state[4096];
    snprintf(state, sizeof state, "%s/outpost-check-state-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(state) == NULL || setenv("OUTPOST_STATE_DIR", state, 1) != 0) {
        fprintf(stderr, "check_main: cannot make a state directory '%s'\n", state);
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    test_rmtree(state);
    return failed == 0 ? 0 : 1;
}
