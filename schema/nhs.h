/* schema/nhs.h - NHS number check digit (modulus 11, DOMAIN.md §2). */
#ifndef SN_SCHEMA_NHS_H
#define SN_SCHEMA_NHS_H

#include "base/err.h"

/* Check `text` (spaces and hyphens allowed between digits) and write its 10 digits to
 * `out` (11 bytes with the NUL). SN_EINVAL with a message saying what is wrong: not ten
 * digits, a check digit that cannot exist (remainder gives 10), or the wrong check digit. */
SN_NODISCARD int schema_nhs_number_check(const char *text, char out[11], sn_err *err);

#endif
