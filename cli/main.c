/* cli/main.c - the `outpost` command: global options, the configuration file, who runs
 * it, dispatch to subcommands, error printing, and the stdout document written only when
 * a command succeeds. */
#include "cli/cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "cli/args.h"

typedef int (*cmd_fn)(cli_ctx *ctx, int argc, char **argv);

static const struct command {
    const char *name;
    cmd_fn fn;
    const char *summary;
} commands[] = {
    {"init", cli_cmd_init, "create this site's store, with you as its administrator"},
    {"user", cli_cmd_user, "add, list and disable the clinicians of this node"},
    {"patient", cli_cmd_patient, "register, find, show, update and merge patients"},
    {"encounter", cli_cmd_encounter, "record a consultation"},
    {"note", cli_cmd_note, "write a note under a heading in a consultation"},
    {"allergy", cli_cmd_allergy, "record an allergy or intolerance"},
    {"condition", cli_cmd_condition, "record a problem or diagnosis"},
    {"observation", cli_cmd_observation, "record a measurement or finding"},
    {"add", cli_cmd_add, "record a new row of any table"},
    {"set", cli_cmd_set, "change a mutable field of a row"},
    {"retract", cli_cmd_retract, "mark a row entered in error (or undo a retraction)"},
    {"show", cli_cmd_show, "show one row, its conflicts and who recorded it"},
    {"list", cli_cmd_list, "list the rows of a table, optionally filtered"},
    {"conflicts", cli_cmd_conflicts, "list, show and resolve conflicting edits"},
    {"log", cli_cmd_log, "who recorded what; export and import log files"},
    {"bundle", cli_cmd_bundle, "sync by USB stick or e-mail: sealed, signed bundle files"},
    {"audit", cli_cmd_audit, "who viewed or changed which record; verify the audit log"},
    {"vector", cli_cmd_vector, "print or save what this store holds, for a peer's export"},
    {"digest", cli_cmd_digest, "fingerprint of the records: equal stores, equal digests"},
    {"status", cli_cmd_status, "the store, and who is in sync: a hub's nodes most urgent first"},
    {"quarantine", cli_cmd_quarantine, "commits held but not applied: revoked or equivocating"},
    {"backup", cli_cmd_backup, "copy the whole store into a file, while it is in use"},
    {"restore", cli_cmd_restore, "bring back a store from a backup (takes a new epoch)"},
    {"serve", cli_cmd_serve, "run the sync daemon: accept peers, keep sessions with hubs"},
    {"sync", cli_cmd_sync, "sync with a hub or a peer over the network (--once: one session)"},
    {"enroll", cli_cmd_enroll, "request and install this node's certificate"},
    {"trust", cli_cmd_trust, "the pinned CA, revocation lists and other nodes' certificates"},
    {"ca", cli_cmd_ca, "the deployment's certificate authority (no store needed)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char global_usage[] =
    "usage: outpost [--store DIR] [--config FILE] [--as CLINICIAN] [--json] COMMAND ...\n"
    "\n"
    "Outpost keeps one site's clinical records, works with no network at all, and\n"
    "exchanges records with other sites by carrying log files between them. You act as\n"
    "the clinician an administrator mapped to your OS login ('outpost user add').\n"
    "\n"
    "Global options (before COMMAND):\n"
    "  --store DIR      the store directory (default: $OUTPOST_STORE, else [node] store\n"
    "                   in the configuration, else ./outpost-data)\n"
    "  --config FILE    the configuration file (default: $OUTPOST_CONFIG, else\n"
    "                   " NODE_CONFIG_DEFAULT_PATH " when it exists)\n"
    "  --as CLINICIAN   administrators: record for clinician CLINICIAN; you are\n"
    "                   recorded as the one who entered it\n"
    "  --json           machine-readable output (also accepted after COMMAND)\n"
    "  -h, --help       this help\n"
    "\n"
    "Commands:\n";

/* Print `label: text` to stderr. Messages may quote data received from other sites, so
 * control characters become '?' and cannot drive the terminal. */
static void print_line(const char *label, const char *text)
{
    fprintf(stderr, "%s: ", label);
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
    fputc('\n', stderr);
}

int cli_fail(const sn_err *err)
{
    print_line("error", err->msg[0] != '\0' ? err->msg : sn_err_name(err->code));
    if (err->hint[0] != '\0')
        print_line("hint", err->hint);
    /* A failure without a code is our bug; never report it as success. */
    return err->code != 0 ? sn_err_exit_status(err->code) : 70;
}

int cli_finish(int rc, const sn_err *err)
{
    return rc == 0 ? 0 : cli_fail(err);
}

static int print_global_usage(cli_ctx *ctx)
{
    sn_err err = SN_ERR_INIT;
    int rc = sn_buf_append_str(&ctx->out, global_usage, &err);
    for (size_t i = 0; rc == 0 && i < NCOMMANDS; i++)
        rc = sn_buf_appendf(&ctx->out, &err, "  %-11s  %s\n", commands[i].name,
                            commands[i].summary);
    if (rc == 0)
        rc = sn_buf_append_str(&ctx->out,
                               "\nRun 'outpost COMMAND --help' for the usage of one command.\n",
                               &err);
    return cli_finish(rc, &err);
}

static const struct command *command_find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* `outpost help [COMMAND [SUBCOMMAND]]` is `outpost COMMAND [SUBCOMMAND] --help`. */
static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
    if (argc == 0)
        return print_global_usage(ctx);
    const struct command *c = command_find(argv[0]);
    if (c == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
    char help[] = "--help";
    char *args[2] = {argc > 1 ? argv[1] : help, help};
    return c->fn(ctx, argc > 1 ? 2 : 1, args);
}

/* The login name running the command. */
static const char *os_user(void)
{
    static char name[SCHEMA_NAME_MAX];
#ifdef SN_TESTABLE
    /* Test builds only (debug, asan): lets the CLI tests act as several OS users in one
     * account. Release builds compile this away, so nobody can claim another login. */
    const char *test = getenv("OUTPOST_TEST_OS_USER");
    if (test != NULL && test[0] != '\0') {
        snprintf(name, sizeof name, "%s", test);
        return name;
    }
#endif
    struct passwd *pw = getpwuid(geteuid());
    if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
        snprintf(name, sizeof name, "%s", pw->pw_name);
    else
        snprintf(name, sizeof name, "uid%lu", (unsigned long)geteuid());
    return name;
}

/* Read the configuration (--config, $OUTPOST_CONFIG, or the default file when it exists),
 * apply its logging settings and pick the store directory. */
static int config_setup(cli_ctx *ctx, sn_err *err)
{
    node_config_defaults(&ctx->config);
    const char *path = ctx->config_path;
    const char *env = getenv("OUTPOST_CONFIG");
    if (path == NULL && env != NULL && env[0] != '\0')
        path = env;
    bool optional = path == NULL;
    if (path == NULL)
        path = NODE_CONFIG_DEFAULT_PATH;
    int rc = node_config_load(&ctx->config, path, optional, err);
    if (rc != 0)
        return rc;
    ctx->config_path = path;
    sn_log_set_level(ctx->config.log_level);
    sn_log_set_output(stderr, ctx->config.log_journal);
    sn_log_debug("configuration '%s'%s", path, optional ? " (read when it exists)" : "");
    if (ctx->store_dir == NULL) {
        const char *store = getenv("OUTPOST_STORE");
        if (store != NULL && store[0] != '\0')
            ctx->store_dir = store;
        else if (ctx->config.store[0] != '\0')
            ctx->store_dir = ctx->config.store;
        else
            ctx->store_dir = "outpost-data";
    }
    return 0;
}

/* Parse the global options; *next gets the index of the command word. Returns 0, 1 when
 * --help was printed, or CLI_EX_USAGE. */
static int parse_globals(cli_ctx *ctx, int argc, char **argv, int *next)
{
    int i = 1;
    for (; i < argc && cli_arg_is_option(argv[i]); i++) {
        const char *arg = argv[i];
        if (cli_arg_is_help(arg))
            return 1;
        if (strcmp(arg, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        const char *name, *value;
        size_t n;
        if (arg[1] != '-')
            return cli_usage_error(NULL, "unknown option '%s'", arg);
        cli_arg_split(arg, &name, &n, &value);
        const char **slot = NULL;
        if (cli_name_equal(name, n, "store"))
            slot = &ctx->store_dir;
        else if (cli_name_equal(name, n, "config"))
            slot = &ctx->config_path;
        else if (cli_name_equal(name, n, "as"))
            slot = &ctx->as;
        else
            return cli_usage_error(NULL, "unknown option '%s'", arg);
        if (value == NULL) {
            if (i + 1 >= argc)
                return cli_usage_error(NULL, "option --%.*s needs a value", (int)n, name);
            value = argv[++i];
        }
        if (value[0] == '\0')
            return cli_usage_error(NULL, "option --%.*s needs a non-empty value", (int)n, name);
        if (*slot != NULL)
            return cli_usage_error(NULL, "option --%.*s given twice", (int)n, name);
        *slot = value;
    }
    *next = i;
    return 0;
}

static int write_output(const sn_buf *out)
{
    if (out->len > 0)
        fwrite(out->data, 1, out->len, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        fprintf(stderr, "error: cannot write output: %s\n", strerror(e));
        return 74; /* EX_IOERR */
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {0};
    sn_buf_init(&ctx.out, CLI_OUT_MAX);
    int next = 0;
    int status = parse_globals(&ctx, argc, argv, &next);
    if (status == 1) {
        status = print_global_usage(&ctx);
        goto done;
    }
    if (status != 0)
        goto done;
    if (next >= argc) {
        fputs("error: no command given\n"
              "hint: run 'outpost --help' for the list of commands\n",
              stderr);
        status = CLI_EX_USAGE;
        goto done;
    }
    ctx.os_user = os_user();
    const char *word = argv[next];
    if (strcmp(word, "help") == 0) {
        status = cmd_help(&ctx, argc - next - 1, argv + next + 1);
        goto done;
    }
    sn_err err = SN_ERR_INIT;
    if (config_setup(&ctx, &err) != 0 || sn_hash_init(&err) != 0) {
        status = cli_fail(&err);
        goto done;
    }
    const struct command *c = command_find(word);
    if (c == NULL) {
        status = cli_usage_error(NULL, "unknown command '%s'", word);
        goto done;
    }
    status = c->fn(&ctx, argc - next - 1, argv + next + 1);
done:
    if (status == 0)
        status = write_output(&ctx.out);
    sn_buf_free(&ctx.out);
    return status;
}
