/* cli/output.c - terminal-safe text, JSON escaping, origins, clock times and tables. */
#include "cli/output.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/json.h"
#include "schema/schema.h"

int cli_json_string(sn_buf *b, const void *s, size_t n, sn_err *err)
{
    return sn_json_string(b, s, n, err);
}

int cli_json_cstr(sn_buf *b, const char *s, sn_err *err) { return sn_json_cstr(b, s, err); }

static int hex_append(sn_buf *b, const uint8_t *p, size_t n, sn_err *err)
{
    static const char digits[] = "0123456789abcdef";
    int rc = sn_buf_reserve(b, 2 * n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        b->data[b->len++] = (uint8_t)digits[p[i] >> 4];
        b->data[b->len++] = (uint8_t)digits[p[i] & 15];
    }
    return rc;
}

int cli_json_value(sn_buf *b, const schema_value *v, sn_err *err)
{
    switch (v->kind) {
    case SCHEMA_V_NIL: return sn_buf_append_str(b, "null", err);
    case SCHEMA_V_INT: return sn_buf_appendf(b, err, "%" PRId64, v->u.i);
    case SCHEMA_V_REAL:
        /* JSON has no NaN or infinity; such a value (only possible from a damaged or
         * hostile commit) is shown as its text in a string. */
        if (!isfinite(v->u.r)) {
            sn_buf tmp;
            sn_buf_init(&tmp, 64);
            int rc = schema_value_format(v, &tmp, err);
            if (rc == 0)
                rc = cli_json_string(b, tmp.data, tmp.len, err);
            sn_buf_free(&tmp);
            return rc;
        }
        return schema_value_format(v, b, err);
    case SCHEMA_V_TEXT: return cli_json_string(b, v->u.s.p, v->u.s.n, err);
    case SCHEMA_V_BLOB: {
        int rc = sn_buf_append(b, "\"", 1, err);
        if (rc == 0)
            rc = hex_append(b, v->u.s.p, v->u.s.n, err);
        return rc != 0 ? rc : sn_buf_append(b, "\"", 1, err);
    }
    case SCHEMA_V_ID: {
        char hex[2 * SCHEMA_ID_LEN + 1];
        schema_id_format(hex, v->u.id);
        return sn_buf_appendf(b, err, "\"%s\"", hex);
    }
    }
    return sn_buf_append_str(b, "null", err);
}

int cli_text_bytes(sn_buf *b, const void *s, size_t n, sn_err *err)
{
    const uint8_t *p = s;
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < n) {
        uint8_t c = p[i];
        size_t len = sn_utf8_len(p + i, n - i);
        /* C1 controls (U+0080..U+009F) are terminal commands too (0x9b is CSI). */
        bool c1 = len == 2 && c == 0xc2 && p[i + 1] < 0xa0;
        if (len == 0 || c1) {
            rc = sn_buf_appendf(b, err, "\\x%02x", c);
            i++;
        } else if (len > 1) {
            rc = sn_buf_append(b, p + i, len, err);
            i += len;
        } else if (c < 0x20 || c == 0x7f) {
            if (c == '\n')
                rc = sn_buf_append_str(b, "\\n", err);
            else if (c == '\t')
                rc = sn_buf_append_str(b, "\\t", err);
            else if (c == '\r')
                rc = sn_buf_append_str(b, "\\r", err);
            else
                rc = sn_buf_appendf(b, err, "\\x%02x", c);
            i++;
        } else {
            rc = sn_buf_append(b, &c, 1, err);
            i++;
        }
    }
    return rc;
}

/* A real for people: the shortest digits that read back as the same number, written
 * without an exponent in the range clinical values live in (120, not 1.2e+02). */
static int real_text(sn_buf *b, double r, sn_err *err)
{
    char tmp[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, r);
        if (!isfinite(r) || strtod(tmp, NULL) == r)
            break;
    }
    double mag = r < 0 ? -r : r;
    const char *e = strchr(tmp, 'e');
    if (isfinite(r) && e != NULL && mag >= 1e-6 && mag < 1e15) {
        int exp10 = (int)strtol(e + 1, NULL, 10); /* %g wrote d.ddde+XX */
        int decimals = prec - 1 - exp10;
        snprintf(tmp, sizeof tmp, "%.*f", decimals > 0 ? decimals : 0, r);
    }
    return sn_buf_append_str(b, tmp, err);
}

int cli_text_value(sn_buf *b, const schema_value *v, sn_err *err)
{
    if (v->kind == SCHEMA_V_REAL)
        return real_text(b, v->u.r, err);
    switch (v->kind) {
    case SCHEMA_V_NIL: return 0;
    case SCHEMA_V_TEXT: return cli_text_bytes(b, v->u.s.p, v->u.s.n, err);
    case SCHEMA_V_BLOB: return hex_append(b, v->u.s.p, v->u.s.n, err);
    case SCHEMA_V_ID: return hex_append(b, v->u.id, SCHEMA_ID_LEN, err);
    case SCHEMA_V_INT:
    case SCHEMA_V_REAL: return schema_value_format(v, b, err);
    }
    return 0;
}

int cli_value_strdup(const schema_value *v, char **out, sn_err *err)
{
    *out = NULL;
    sn_buf b;
    sn_buf_init(&b, CLI_CELL_MAX);
    int rc = cli_text_value(&b, v, err);
    if (rc == 0)
        rc = sn_buf_append(&b, "", 1, err); /* the NUL */
    if (rc != 0) {
        sn_buf_free(&b);
        return rc;
    }
    *out = (char *)sn_buf_steal(&b, NULL);
    return 0;
}

void cli_origin_format(char out[static CLI_ORIGIN_MAX], const crdt_origin *o, bool short_form)
{
    char hex[2 * CRDT_REPLICA_LEN + 1];
    sn_hex(hex, o->replica, CRDT_REPLICA_LEN);
    snprintf(out, CLI_ORIGIN_MAX, "%.*s/%" PRIu32, short_form ? 8 : 2 * CRDT_REPLICA_LEN, hex,
             o->epoch);
}

void cli_time_format(char out[static CLI_HLC_MAX], uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char day[32];
    if (gmtime_r(&secs, &tm) == NULL || strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(day, sizeof day, "@%" PRIu64, ms / 1000);
    snprintf(out, CLI_HLC_MAX, "%s.%03uZ", day, (unsigned)(ms % 1000));
}

void cli_hlc_format(char out[static CLI_HLC_MAX], crdt_hlc h)
{
    cli_time_format(out, CRDT_HLC_MS(h));
    size_t n = strlen(out);
    snprintf(out + n, CLI_HLC_MAX - n, "/%u", (unsigned)CRDT_HLC_COUNTER(h));
}

int cli_json_vv(sn_buf *b, const crdt_vv *vv, sn_err *err)
{
    int rc = sn_buf_append(b, "[", 1, err);
    for (size_t i = 0; rc == 0 && i < vv->n; i++) {
        char origin[CLI_ORIGIN_MAX];
        cli_origin_format(origin, &vv->e[i].origin, false);
        rc = sn_buf_appendf(b, err, "%s{\"origin\":\"%s\",\"seq\":%" PRIu64 "}",
                            i > 0 ? "," : "", origin, vv->e[i].seq);
    }
    return rc != 0 ? rc : sn_buf_append(b, "]", 1, err);
}

/* Display width of a cell: UTF-8 code points, a good enough stand-in for columns. */
static size_t cell_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

int cli_grid_init(cli_grid *g, size_t ncols, const char *const *header, sn_err *err)
{
    *g = (cli_grid){.ncols = ncols};
    return cli_grid_add(g, header, err);
}

int cli_grid_add(cli_grid *g, const char *const *cells, sn_err *err)
{
    if (g->nrows == g->cap) {
        size_t cap = g->cap == 0 ? 16 : 2 * g->cap;
        size_t bytes;
        if (__builtin_mul_overflow(cap, g->ncols * sizeof(char *), &bytes))
            return sn_err_set(err, SN_ETOOBIG, "table of %zu rows is too large", g->nrows);
        char **p = sn_realloc(g->cells, bytes);
        if (p == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory building a table of %zu rows",
                              g->nrows);
        g->cells = p;
        g->cap = cap;
    }
    char **row = g->cells + g->nrows * g->ncols;
    for (size_t i = 0; i < g->ncols; i++) {
        row[i] = sn_strdup(cells[i] != NULL ? cells[i] : "");
        if (row[i] == NULL) {
            while (i-- > 0)
                sn_free(row[i]);
            return sn_err_set(err, SN_ENOMEM, "out of memory building a table");
        }
    }
    g->nrows++;
    return 0;
}

int cli_grid_render(const cli_grid *g, sn_buf *out, sn_err *err)
{
    size_t width[16] = {0};
    if (SN_NEVER(g->ncols > sizeof width / sizeof width[0]))
        return sn_err_set(err, SN_EINVAL, "table has too many columns");
    for (size_t r = 0; r < g->nrows; r++)
        for (size_t c = 0; c < g->ncols; c++) {
            size_t w = cell_width(g->cells[r * g->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < g->nrows; r++) {
        /* The last non-empty cell ends the line, so no line has trailing blanks. */
        size_t last = 0;
        for (size_t c = 0; c < g->ncols; c++)
            if (g->cells[r * g->ncols + c][0] != '\0')
                last = c;
        for (size_t c = 0; rc == 0 && c <= last; c++) {
            const char *s = g->cells[r * g->ncols + c];
            rc = sn_buf_append_str(out, s, err);
            if (rc == 0 && c < last)
                rc = sn_buf_appendf(out, err, "%*s", (int)(width[c] - cell_width(s) + 2), "");
        }
        if (rc == 0)
            rc = sn_buf_append(out, "\n", 1, err);
    }
    return rc;
}

void cli_grid_free(cli_grid *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nrows * g->ncols; i++)
        sn_free(g->cells[i]);
    sn_free(g->cells);
    *g = (cli_grid){0};
}
