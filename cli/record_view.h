/* cli/record_view.h - the whole record of one person, as `outpost patient show` presents
 * it: every registration linked to the patient (one person, shown under the smallest id),
 * their identifiers, possible duplicates, allergies, problems, encounters with their notes,
 * and observations, each entry with whether and why it was retracted. Loaded once, then
 * rendered as text (record_text.c) or JSON (record_view.c). */
#ifndef SN_CLI_RECORD_VIEW_H
#define SN_CLI_RECORD_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

typedef struct cli_entry {
    node_row *row; /* owned */
    char *reason;  /* why it was retracted (owned), NULL when it is not */
} cli_entry;

typedef struct cli_entries {
    cli_entry *v;
    size_t n, cap;
} cli_entries;

typedef struct cli_duplicate {
    uint8_t other[SCHEMA_ID_LEN]; /* the registration that may be the same person */
    int score;
    char reason[96];
    char allergies[256]; /* that registration's allergies, for the banner; "" when none */
} cli_duplicate;

typedef struct cli_record {
    uint8_t canonical[SCHEMA_ID_LEN];
    uint8_t (*ids)[SCHEMA_ID_LEN]; /* every id of the person, sorted */
    size_t nids;
    cli_entries patients; /* the held registrations, canonical first */
    cli_entries identifiers, links, allergies, problems, encounters, notes, observations;
    cli_duplicate *dups;
    size_t ndups;
} cli_record;

/* Load the record of the person patient `id` belongs to. *rec is the caller's
 * (cli_record_free, also after a failure). Store read codes, SN_ENOMEM. */
SN_NODISCARD int cli_record_load(node_store *st, const uint8_t id[SCHEMA_ID_LEN],
                                 cli_record *rec, sn_err *err);
void cli_record_free(cli_record *rec);

/* Append the record as text for a clinician / as one JSON document (with newline). */
SN_NODISCARD int cli_record_text(node_store *st, const cli_record *rec, sn_buf *b, sn_err *err);
SN_NODISCARD int cli_record_json(node_store *st, const cli_record *rec, sn_buf *b, sn_err *err);

#endif
