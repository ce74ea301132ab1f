/* tests/daemon_fixture.h - sites that sync over real loopback sockets, shared by the daemon
 * suite (check_node_daemon.c) and the crash suite (check_crash.c): an enrolled store that
 * is open in this process or served by a forked child running node_daemon_run, and one
 * `sync --once` session with a served peer. Helpers assert (ck_assert) except
 * daemon_sync_once, which returns the daemon's code for callers that must not assert (a
 * forked child, a check that collects its failures). */
#ifndef SN_TESTS_DAEMON_FIXTURE_H
#define SN_TESTS_DAEMON_FIXTURE_H

#include <sys/types.h>

#include "node/daemon.h"
#include "tests/node_fixture.h"
#include "tests/trust_fixture.h"

typedef struct site {
    char dir[4096];
    test_clock clock;
    node_store *st; /* open in this process, or NULL while a child serves it */
} site;

/* A fresh store named `name` in its own directory of g_dir, enrolled with `ca`, left open. */
void site_new(site *s, tca *ca, const char *name);
/* Close the store (NULL-safe); open it again (a no-op when open). */
void site_close(site *s);
void site_open(site *s);

void sleep_ms(long ms);

/* Fork a child serving `s` (closed here first) on a loopback port, dialling `hub` when not
 * NULL; returns its pid and the port. */
pid_t serve(site *s, const char *hub, int *port);
/* SIGTERM the served child and wait: it must exit with 0. */
void stop(pid_t pid);

/* One `sync --once` session of `st` with the peer at 127.0.0.1:port: node_daemon_run's
 * code. `rep` may be NULL. Never asserts. */
int daemon_sync_once(node_store *st, int port, node_daemon_report *rep, sn_err *err);
/* The same for site `s` (opened first); fails the test unless the session succeeded or
 * ended with a temporary failure (SN_EBUSY) or a protocol error (SN_EPROTO). */
int sync_once(site *s, int port, node_daemon_report *rep);
/* sync_once, which must succeed. */
void sync_ok(site *s, int port);

#endif
