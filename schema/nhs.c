/* schema/nhs.c - NHS number check digit: weights 10..2 over the first nine digits,
 * C = 11 - (S mod 11), C = 11 reads as 0, C = 10 means no valid number has these digits. */
#include "schema/nhs.h"

#include <string.h>

int schema_nhs_number_check(const char *text, char out[11], sn_err *err)
{
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (*p < '0' || *p > '9' || n == 10) {
            n = 11;
            break;
        }
        out[n++] = *p;
    }
    if (n != 10) {
        out[0] = '\0';
        sn_err_set(err, SN_EINVAL, "NHS number '%s' must be exactly 10 digits", text);
        sn_err_hint(err, "spaces and hyphens between digits are allowed, e.g. 943 476 5919");
        return SN_EINVAL;
    }
    out[10] = '\0';
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (10 - i) * (out[i] - '0');
    int check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    if (check == 10)
        return sn_err_set(err, SN_EINVAL, "NHS number '%s' is not valid: no check digit exists "
                          "for its first nine digits", text);
    if (check != out[9] - '0')
        return sn_err_set(err, SN_EINVAL, "NHS number '%s' is not valid: its check digit should "
                          "be %d", text, check);
    return 0;
}
