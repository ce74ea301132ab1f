/* tests/check_node_daemon.c - the sync daemon over real loopback sockets, in real
 * processes: a hub (a forked child running node_daemon_run) and sites that sync with it
 * once at a time in any order; two sites syncing directly; live push and relay between
 * connected sites; and a new site's bootstrap through the link simulator (build/…/linksim)
 * with latency and a cut every 16 KiB. */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "node/daemon.h"
#include "node/peers.h"
#include "node/units.h"
#include "tests/daemon_fixture.h"

static size_t conflicts_of(site *s)
{
    site_open(s);
    return (size_t)counts(s->st).conflicts;
}

static void setup(void)
{
    dir_setup();
    sn_log_set_level(SN_LOG_ERROR);
}

/* A hub and three sites record offline, sync in any order, and end equal, conflicts and
 * all; the sites never meet, so what one holds of another came through the hub. */
START_TEST(test_daemon_hub_and_three_sites)
{
    tca ca;
    tca_make(&ca, "Fleet CA");
    site hub, a, b, c;
    site_new(&hub, &ca, "hub");
    site_new(&a, &ca, "a");
    site_new(&b, &ca, "b");
    site_new(&c, &ca, "c");
    uint8_t pa[ID_LEN], pb[ID_LEN], pc[ID_LEN], shared[ID_LEN];
    insert_patient(a.st, "Adams", pa);
    insert_patient(b.st, "Brown", pb);
    insert_patient(c.st, "Clark", pc);
    insert_patient(a.st, "Shared", shared);

    int port;
    pid_t pid = serve(&hub, NULL, &port);
    sync_ok(&c, port);
    sync_ok(&a, port);
    sync_ok(&b, port);
    /* b now holds the shared patient; a and b edit it concurrently: a review conflict. */
    set_text(a.st, shared, "given", "Anne");
    set_text(b.st, shared, "given", "Anna");
    sync_ok(&b, port);
    sync_ok(&a, port);
    sync_ok(&c, port);
    sync_ok(&b, port);
    stop(pid);

    site_open(&hub);
    expect_digests(hub.st, a.st, true, "hub and a");
    expect_digests(hub.st, b.st, true, "hub and b");
    expect_digests(hub.st, c.st, true, "hub and c");
    expect_row(c.st, pa, true, "a's patient at c, through the hub");
    expect_row(a.st, pb, true, "b's patient at a, through the hub");
    ck_assert_uint_ge(conflicts_of(&hub), 1);
    ck_assert_uint_eq(conflicts_of(&a), conflicts_of(&hub));
    ck_assert_uint_eq(conflicts_of(&b), conflicts_of(&hub));
    ck_assert_uint_eq(conflicts_of(&c), conflicts_of(&hub));

    /* The hub remembers each site: sessions, bytes, the vectors exchanged. */
    node_peer p;
    bool found;
    sn_err err = SN_ERR_INIT;
    CK_OK(node_peer_load(hub.st, node_store_origin(b.st)->replica, &p, &found, &err));
    ck_assert(found);
    ck_assert_uint_eq(p.sessions, 3);
    ck_assert_uint_eq(p.completed, 3);
    ck_assert_uint_gt(p.bytes_in, 0);
    ck_assert_uint_gt(p.seen.n, 0); /* what b said it holds, for the next HELLO's delta */
    node_peer_free(&p);
    site_close(&hub);
    site_close(&a);
    site_close(&b);
    site_close(&c);
}
END_TEST

/* Two sites meet with no hub: one serves, the other dials it. */
START_TEST(test_daemon_sites_sync_directly)
{
    tca ca;
    tca_make(&ca, "Fleet CA");
    site a, b;
    site_new(&a, &ca, "a");
    site_new(&b, &ca, "b");
    uint8_t pa[ID_LEN], pb[ID_LEN];
    insert_patient(a.st, "Adams", pa);
    insert_patient(b.st, "Brown", pb);
    int port;
    pid_t pid = serve(&a, NULL, &port);
    node_daemon_report rep;
    ck_assert_int_eq(sync_once(&b, port, &rep), 0);
    ck_assert_uint_eq(rep.sessions_ok, 1);
    ck_assert_uint_eq(rep.last.commits_in, 1);
    ck_assert_uint_eq(rep.last.commits_out, 1);
    /* Nothing new: a delta HELLO that leaves out what the last session moved, no units,
     * under 1 KiB in all, handshake and certificates included. */
    ck_assert_int_eq(sync_once(&b, port, &rep), 0);
    ck_assert_uint_eq(rep.last.units_in + rep.last.units_out, 0);
    ck_assert_uint_eq(rep.last.hellos_full, 0);
    ck_assert_uint_lt(rep.last.bytes_out + rep.last.bytes_in, 1024);
    stop(pid);
    /* a forgets what b last told it (a lost ACK, a store restored): b's delta HELLO is
     * answered by NEED_FULL, b's CAUGHT_UP overtakes its second HELLO, and all is well. */
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", a.dir);
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "DELETE FROM peer", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    insert_patient(b.st, "Again", pb);
    pid = serve(&a, NULL, &port);
    ck_assert_int_eq(sync_once(&b, port, &rep), 0);
    ck_assert_uint_eq(rep.last.hellos_full, 1);
    ck_assert_uint_eq(rep.last.commits_out, 1);
    stop(pid);
    site_open(&a);
    expect_digests(a.st, b.st, true, "after a direct sync");
    site_close(&a);
    site_close(&b);
}
END_TEST

/* A peer that is not there: a clear temporary failure, not a hang. */
START_TEST(test_daemon_unreachable_peer)
{
    tca ca;
    tca_make(&ca, "Fleet CA");
    site a, b;
    site_new(&a, &ca, "a");
    site_new(&b, &ca, "b");
    int port;
    pid_t pid = serve(&a, NULL, &port);
    stop(pid); /* the port is free again */
    site_open(&b);
    sn_err err = SN_ERR_INIT;
    CK_FAILS(daemon_sync_once(b.st, port, NULL, &err), SN_EBUSY);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot reach"));
    site_close(&b);
}
END_TEST

static uint64_t held_seq(site *s, const crdt_origin *o)
{
    site_open(s);
    crdt_vv v = held_of(s->st);
    uint64_t seq = crdt_vv_get(&v, o);
    crdt_vv_free(&v);
    site_close(s);
    return seq;
}

/* Sites connected to a hub stay connected: a commit made at one reaches the other through
 * the hub within a couple of seconds, with nobody running sync by hand. */
START_TEST(test_daemon_live_push_and_relay)
{
    tca ca;
    tca_make(&ca, "Fleet CA");
    site hub, a, b;
    site_new(&hub, &ca, "hub");
    site_new(&a, &ca, "a");
    site_new(&b, &ca, "b");
    crdt_origin oa = *node_store_origin(a.st);
    int hub_port, pa_port, pb_port;
    pid_t ph = serve(&hub, NULL, &hub_port);
    char hub_addr[64];
    snprintf(hub_addr, sizeof hub_addr, "127.0.0.1:%d", hub_port);
    /* a writes while its daemon runs (another connection to its store). */
    pid_t pa = serve(&a, hub_addr, &pa_port);
    pid_t pb = serve(&b, hub_addr, &pb_port);
    site_open(&a);
    uint8_t p[ID_LEN];
    insert_patient(a.st, "Live", p);
    uint64_t want = held_seq(&a, &oa);
    ck_assert_uint_ge(want, 1);
    int waited = 0;
    while (held_seq(&b, &oa) < want && waited < 5000) {
        sleep_ms(50);
        waited += 50;
    }
    ck_assert_msg(held_seq(&b, &oa) >= want, "a's commit did not reach b within 5 s");
    stop(pa);
    stop(pb);
    stop(ph);
    site_open(&a);
    site_open(&b);
    expect_row(b.st, p, true, "pushed live from a through the hub");
    site_close(&a);
    site_close(&b);
}
END_TEST

static int spawn_linksim(const char *to, const char *stats, const char *port_file, int latency,
                         int cut, pid_t *pid)
{
    const char *bin = getenv("LINKSIM");
    char lat[16], cutb[16];
    snprintf(lat, sizeof lat, "%d", latency);
    snprintf(cutb, sizeof cutb, "%d", cut);
    unlink(port_file);
    *pid = fork();
    ck_assert_int_ge(*pid, 0);
    if (*pid == 0) {
        char log[4300];
        snprintf(log, sizeof log, "%s.log", stats);
        if (freopen(log, "w", stderr) == NULL)
            _exit(126);
        execl(bin != NULL ? bin : "build/debug/linksim", "linksim", "--listen", "127.0.0.1:0",
              "--to", to, "--latency-ms", lat, "--cut-every", cutb, "--stats", stats,
              "--port-file", port_file, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f != NULL) {
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1)
                return port;
        }
        sleep_ms(10);
    }
    ck_abort_msg("linksim never listened (set LINKSIM to its path)");
    return 0;
}

static uint64_t stat_of(const char *stats, const char *key)
{
    FILE *f = fopen(stats, "r");
    ck_assert_ptr_nonnull(f);
    char k[64];
    unsigned long long v;
    uint64_t out = 0;
    while (fscanf(f, "%63s %llu", k, &v) == 2)
        if (strcmp(k, key) == 0)
            out = v;
    fclose(f);
    return out;
}

/* A new site bootstraps through a link with 300 ms latency that is cut every 16 KiB:
 * each session resumes where the last one ended, the hub's units shrink to fit, and the
 * site ends equal to the hub. SN_BOOTSTRAP_COMMITS sets the size (default 1500; the
 * issue's 50,000 runs in `make soak`). */
START_TEST(test_daemon_bootstrap_through_cuts)
{
    const char *env = getenv("SN_BOOTSTRAP_COMMITS");
    size_t n = env != NULL ? (size_t)strtoul(env, NULL, 10) : 1500;
    tca ca;
    tca_make(&ca, "Fleet CA");
    site hub, fresh;
    site_new(&hub, &ca, "hub");
    site_new(&fresh, &ca, "fresh");
    sn_err err = SN_ERR_INIT;
    CK_OK(node_store_batch_begin(hub.st, &err));
    for (size_t i = 0; i < n; i++) {
        char family[32];
        uint8_t id[ID_LEN];
        snprintf(family, sizeof family, "Bootstrap %05zu", i);
        insert_patient(hub.st, family, id);
    }
    CK_OK(node_store_batch_commit(hub.st, &err));
    int hub_port;
    pid_t ph = serve(&hub, NULL, &hub_port);
    char to[64], stats[4200], pf[4200];
    snprintf(to, sizeof to, "127.0.0.1:%d", hub_port);
    snprintf(stats, sizeof stats, "%s.linkstats", fresh.dir);
    snprintf(pf, sizeof pf, "%s.linkport", fresh.dir);
    pid_t pl;
    int port = spawn_linksim(to, stats, pf, 300, 16384, &pl);
    int sessions = 0, rc;
    uint64_t dup = 0;
    do {
        node_daemon_report rep;
        rc = sync_once(&fresh, port, &rep);
        dup += rep.last.duplicate_units;
        sessions++;
    } while (rc != 0 && sessions < 5000);
    ck_assert_int_eq(rc, 0);
    kill(pl, SIGTERM);
    waitpid(pl, NULL, 0);
    stop(ph);
    uint64_t cuts = stat_of(stats, "cuts"), down = stat_of(stats, "bytes_down");
    fprintf(stderr, "bootstrap of %zu commits through 300 ms / 16 KiB cuts: %d sessions, "
            "%llu cuts, %llu bytes down, %llu whole units received twice\n", n, sessions,
            (unsigned long long)cuts, (unsigned long long)down, (unsigned long long)dup);
    ck_assert_uint_ge(cuts, 1);
    ck_assert_uint_eq(dup, 0); /* a cut costs at most the unit it interrupted */
    site_open(&hub);
    expect_digests(hub.st, fresh.st, true, "after the bootstrap");
    /* The hub learned to cut smaller units for this link. */
    node_peer p;
    bool found;
    CK_OK(node_peer_load(hub.st, node_store_origin(fresh.st)->replica, &p, &found, &err));
    ck_assert(found);
    ck_assert_uint_lt(p.unit_target, NODE_UNIT_TARGET);
    node_peer_free(&p);
    site_close(&hub);
    site_close(&fresh);
}
END_TEST

Suite *node_daemon_suite(void);
Suite *node_daemon_suite(void)
{
    Suite *s = suite_create("node_daemon_suite");
    TCase *tc = tcase_create("daemon");
    tcase_add_unchecked_fixture(tc, setup, dir_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_daemon_hub_and_three_sites);
    tcase_add_test(tc, test_daemon_sites_sync_directly);
    tcase_add_test(tc, test_daemon_unreachable_peer);
    tcase_add_test(tc, test_daemon_live_push_and_relay);
    tcase_add_test(tc, test_daemon_bootstrap_through_cuts);
    suite_add_tcase(s, tc);
    return s;
}
