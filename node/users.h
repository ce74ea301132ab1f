/* node/users.h - this node's clinicians and authorship. Users are local to the node (an
 * administrator maintains them; they are never replicated): each maps an OS user to a
 * clinician id, name and role. Every write is authored by the clinician mapped from the OS
 * user; an administrator may enter records for another clinician (`--as`), recorded as
 * "entered by". */
#ifndef SN_NODE_USERS_H
#define SN_NODE_USERS_H

#include <stdbool.h>

#include "base/err.h"
#include "node/store.h"

typedef enum node_role {
    NODE_ROLE_CLINICIAN = 1, /* records and reads */
    NODE_ROLE_ADMIN = 2,     /* also manages users and may enter records for others */
} node_role;

#define NODE_USER_ID_MAX 64
#define NODE_USER_NAME_MAX 128

typedef struct node_user {
    char id[NODE_USER_ID_MAX + 1];        /* clinician id, e.g. an SDS user id or "dr.hughes" */
    char name[NODE_USER_NAME_MAX + 1];
    node_role role;
    char os_user[NODE_USER_ID_MAX + 1];   /* login name this clinician works under */
    bool disabled;
} node_user;

/* "clinician" / "admin" and back. node_role_parse: 0 or SN_EINVAL. */
const char *node_role_name(node_role r);
SN_NODISCARD int node_role_parse(const char *s, node_role *out);

/* Check a user's fields without a store (ids, OS user, name): what node_user_add checks
 * before looking at other users. 0 or SN_EINVAL saying which rule failed. */
SN_NODISCARD int node_user_check(const node_user *u, sn_err *err);

/* Add a user. Ids are 1..64 bytes of letters, digits and ". _ - @"; the OS user must not
 * be mapped to another enabled user. SN_EINVAL saying which rule failed. */
SN_NODISCARD int node_user_add(node_store *st, const node_user *u, sn_err *err);
/* Disable a user: they can no longer write; their past commits stay theirs. Disabling the
 * last enabled administrator is refused (SN_EINVAL). SN_ENOTFOUND for an unknown id. */
SN_NODISCARD int node_user_disable(node_store *st, const char *id, sn_err *err);
/* Look up by clinician id, or by the OS user of an enabled user. SN_ENOTFOUND. */
SN_NODISCARD int node_user_get(node_store *st, const char *id, node_user *out, sn_err *err);
SN_NODISCARD int node_user_by_os(node_store *st, const char *os_user, node_user *out,
                                 sn_err *err);
/* Every user, ordered by id. Stops at the first non-zero return of fn. */
typedef int (*node_user_fn)(void *ctx, const node_user *u, sn_err *err);
SN_NODISCARD int node_user_each(node_store *st, node_user_fn fn, void *ctx, sn_err *err);

/* Who writes: the enabled clinician mapped from `os_user`; with `as` (a clinician id) the
 * caller must be an administrator and `as` an enabled user, and then *author = as and
 * *entered_by = the caller. Refusals are SN_EAUTH with a hint saying how to be added or
 * who may use --as. `author`/`entered_by` receive copies (entered_by "" when none). */
SN_NODISCARD int node_user_authorship(node_store *st, const char *os_user, const char *as,
                                      node_user *author, node_user *entered_by, sn_err *err);

#endif
