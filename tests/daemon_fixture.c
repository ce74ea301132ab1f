/* tests/daemon_fixture.c - sites syncing over loopback (see daemon_fixture.h). */
#include "tests/daemon_fixture.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

void site_new(site *s, tca *ca, const char *name)
{
    s->clock.ms = BASE_MS;
    s->st = mk(name, &s->clock, s->dir);
    tca_enroll(ca, s->st);
}

void site_close(site *s)
{
    node_store_close(s->st);
    s->st = NULL;
}

void site_open(site *s)
{
    if (s->st == NULL)
        s->st = reopen(s->dir, &s->clock);
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

pid_t serve(site *s, const char *hub, int *port)
{
    site_close(s);
    char port_file[4200];
    snprintf(port_file, sizeof port_file, "%s.port", s->dir);
    unlink(port_file);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a test that failed */
        sn_log_set_level(SN_LOG_ERROR);
        node_store *st = reopen(s->dir, &s->clock);
        node_daemon_opts o = {.listen = "127.0.0.1:0", .port_file = port_file,
                              .retry_min_ms = 50, .retry_max_ms = 200, .poll_ms = 50};
        if (hub != NULL)
            o.dial[o.ndial++] = hub;
        sn_err err = SN_ERR_INIT;
        int rc = node_daemon_run(st, &o, NULL, &err);
        node_store_close(st);
        _exit(rc == 0 ? 0 : 1);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", port);
            fclose(f);
            if (ok == 1)
                return pid;
        }
        sleep_ms(10);
    }
    ck_abort_msg("the daemon for %s never listened", s->dir);
    return pid;
}

void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon exit status %d",
                  status);
}

int daemon_sync_once(node_store *st, int port, node_daemon_report *rep, sn_err *err)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    node_daemon_opts o = {.once = true};
    o.dial[o.ndial++] = addr;
    return node_daemon_run(st, &o, rep, err);
}

int sync_once(site *s, int port, node_daemon_report *rep)
{
    site_open(s);
    sn_err err = SN_ERR_INIT;
    int rc = daemon_sync_once(s->st, port, rep, &err);
    if (rc != 0 && rc != SN_EBUSY && rc != SN_EPROTO)
        ck_abort_msg("sync with 127.0.0.1:%d: %s", port, err.msg);
    return rc;
}

void sync_ok(site *s, int port) { ck_assert_int_eq(sync_once(s, port, NULL), 0); }
