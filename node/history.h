/* node/history.h - reading the commit log as history: who wrote what, when, where, and
 * about which patient (`outpost log`). */
#ifndef SN_NODE_HISTORY_H
#define SN_NODE_HISTORY_H

#include <stdbool.h>

#include "base/err.h"
#include "node/store.h"
#include "schema/codec.h"

typedef struct node_log_filter {
    const uint8_t *patient; /* only commits touching this patient or one linked to it */
    const char *user;       /* only commits authored or entered by this clinician id */
} node_log_filter;

/* Held commits in time order (hlc, then origin and seq), filtered; the decoded commit is
 * borrowed for the call. Stops at the first non-zero return of fn. */
typedef int (*node_commit_fn)(void *ctx, const schema_commit *c, sn_err *err);
SN_NODISCARD int node_store_log_each(node_store *st, const node_log_filter *filter,
                                     node_commit_fn fn, void *ctx, sn_err *err);

/* The patient a change is about (the row itself for patient rows, else the row's patient
 * column, looked up for sets); false when it has none or it is not known here. */
SN_NODISCARD int node_change_patient(node_store *st, const schema_change *ch,
                                     uint8_t out[SCHEMA_ID_LEN], bool *found, sn_err *err);

/* Possible duplicate registrations, strongest first, never merged automatically: the same
 * NHS number (strongest when both are verified, status 01), or the same family name (case
 * folded), birth date and gender. Pairs already linked and retracted patients are left
 * out. */
typedef struct node_duplicate {
    uint8_t a[SCHEMA_ID_LEN];
    uint8_t b[SCHEMA_ID_LEN];
    int score;          /* 100 verified NHS number, 80 NHS number, 60 name+birth+gender */
    const char *reason;
} node_duplicate;
typedef int (*node_duplicate_fn)(void *ctx, const node_duplicate *d, sn_err *err);
SN_NODISCARD int node_store_duplicates_each(node_store *st, node_duplicate_fn fn, void *ctx,
                                            sn_err *err);

#endif
