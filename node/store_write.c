/* node/store_write.c - local writes: one node_write gathers the changes of one commit,
 * checks them (including the referential checks that run at local write only), and
 * commits them atomically: log body, chain link and materialized state together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "node/audit.h"
#include "node/users.h"
#include "node/store_int.h"
#include "sync/unit.h"

struct node_write {
    node_store *st;
    char *author;
    char *entered_by;
    schema_change *changes;
    size_t n;
    size_t cap;
    void **owned; /* copies of text values, freed with the write */
    size_t nowned;
    size_t owned_cap;
    struct {             /* an audit event to append with the commit */
        bool wanted;
        char action;
        bool has_patient;
        uint8_t patient[16];
        char user[NODE_USER_ID_MAX + 1];
        char os_user[NODE_USER_ID_MAX + 1];
        char detail[NODE_AUDIT_DETAIL_MAX + 1];
    } audit;
};

static int own(node_write *w, void *p, sn_err *err)
{
    if (w->nowned == w->owned_cap) {
        size_t cap = w->owned_cap < 8 ? 16 : w->owned_cap * 2;
        void **a = sn_realloc(w->owned, cap * sizeof *a);
        if (a == NULL) {
            sn_free(p);
            return sn_err_set(err, SN_ENOMEM, "out of memory building a commit");
        }
        w->owned = a;
        w->owned_cap = cap;
    }
    w->owned[w->nowned++] = p;
    return 0;
}

/* Copy a value's borrowed bytes into memory the write owns. */
static int copy_value(node_write *w, schema_value *v, sn_err *err)
{
    if (v->kind != SCHEMA_V_TEXT && v->kind != SCHEMA_V_BLOB)
        return 0;
    uint8_t *p = sn_malloc(v->u.s.n + 1);
    if (p == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory building a commit");
    memcpy(p, v->u.s.p, v->u.s.n);
    p[v->u.s.n] = '\0';
    v->u.s.p = p;
    return own(w, p, err);
}

static int check_person(const char *what, const char *name, sn_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > SCHEMA_NAME_MAX)
        return sn_err_set(err, SN_EINVAL, "%s '%s' must be 1 to %d bytes long", what, name,
                          SCHEMA_NAME_MAX);
    return 0;
}

int node_write_begin(node_store *st, const char *author, const char *entered_by,
                     node_write **out, sn_err *err)
{
    *out = NULL;
    int rc = check_person("author", author, err);
    if (rc == 0 && entered_by != NULL)
        rc = check_person("entered-by", entered_by, err);
    if (rc != 0)
        return rc;
    node_write *w = sn_calloc(1, sizeof *w);
    if (w == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory starting a commit");
    w->st = st;
    w->author = sn_strdup(author);
    w->entered_by = entered_by != NULL ? sn_strdup(entered_by) : NULL;
    if (w->author == NULL || (entered_by != NULL && w->entered_by == NULL)) {
        node_write_abort(w);
        return sn_err_set(err, SN_ENOMEM, "out of memory starting a commit");
    }
    *out = w;
    return 0;
}

void node_write_abort(node_write *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n; i++) {
        sn_free(w->changes[i].fields);
        crdt_vv_free(&w->changes[i].ctx);
    }
    for (size_t i = 0; i < w->nowned; i++)
        sn_free(w->owned[i]);
    sn_free(w->owned);
    sn_free(w->changes);
    sn_free(w->author);
    sn_free(w->entered_by);
    sn_free(w);
}

static int add_change(node_write *w, schema_change **out, sn_err *err)
{
    if (w->n >= SCHEMA_CHANGES_MAX)
        return sn_err_set(err, SN_ETOOBIG, "a commit holds at most %d changes",
                          SCHEMA_CHANGES_MAX);
    if (w->n == w->cap) {
        size_t cap = w->cap < 4 ? 4 : w->cap * 2;
        schema_change *a = sn_realloc(w->changes, cap * sizeof *a);
        if (a == NULL)
            return sn_err_set(err, SN_ENOMEM, "out of memory building a commit");
        w->changes = a;
        w->cap = cap;
    }
    *out = &w->changes[w->n];
    **out = (schema_change){0};
    return 0;
}

/* Is row `id` of `table` (SCHEMA_REF_ANY: of any table) held, insert and all? */
static int row_is_held(node_store *st, uint16_t table, const uint8_t id[16], bool *held,
                       sn_err *err)
{
    *held = false;
    for (size_t i = 0; i < schema_table_count() && !*held; i++) {
        const schema_table *t = schema_table_at(i);
        if (table != SCHEMA_REF_ANY && t->id != table)
            continue;
        node_table_stmts *ts;
        int rc = node_table_stmts_get(st, t, &ts, err);
        if (rc != 0)
            return rc;
        sqlite3_bind_blob(ts->select, 1, id, 16, SQLITE_STATIC);
        rc = sqlite3_step(ts->select);
        *held = rc == SQLITE_ROW && sqlite3_column_type(ts->select, 0) != SQLITE_NULL;
        node_stmt_done(ts->select);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return node_store_fail(st, rc, err, "looking up a record");
    }
    return 0;
}

/* A reference must name a record this node holds (checked at local write only). */
static int check_reference(node_write *w, const schema_table *t, const schema_column *c,
                           const schema_value *v, sn_err *err)
{
    if (c->type != SCHEMA_T_REF || v->kind != SCHEMA_V_ID)
        return 0;
    /* A row inserted earlier in this same commit counts too. */
    for (size_t i = 0; i < w->n; i++)
        if (w->changes[i].op == SCHEMA_OP_INSERT &&
            memcmp(w->changes[i].row, v->u.id, 16) == 0 &&
            (c->ref_table == SCHEMA_REF_ANY || c->ref_table == w->changes[i].table))
            return 0;
    bool held;
    int rc = row_is_held(w->st, c->ref_table, v->u.id, &held, err);
    if (rc != 0 || held)
        return rc;
    char hex[33];
    schema_id_format(hex, v->u.id);
    const schema_table *rt = schema_table_by_id(c->ref_table);
    sn_err_set(err, SN_ENOTFOUND, "%s.%s: no %s with id %s is held on this node", t->name,
               c->name, rt != NULL ? rt->name : "record", hex);
    sn_err_hint(err, "check the id (`outpost list %s`), or import the log that holds it",
                rt != NULL ? rt->name : "TABLE");
    return SN_ENOTFOUND;
}

int node_write_insert(node_write *w, uint16_t table, const schema_field *fields,
                      size_t nfields, uint8_t row_out[SCHEMA_ID_LEN], sn_err *err)
{
    const schema_table *t = schema_table_by_id(table);
    if (t == NULL)
        return sn_err_set(err, SN_EINVAL, "unknown table id %u", table);
    /* Given fields: known, once each, valid, references held. */
    for (size_t i = 0; i < nfields; i++) {
        const schema_column *c = schema_column_by_id(t, fields[i].col);
        if (c == NULL)
            return sn_err_set(err, SN_EINVAL, "table %s has no column with id %u", t->name,
                              fields[i].col);
        for (size_t j = 0; j < i; j++)
            if (fields[j].col == fields[i].col)
                return sn_err_set(err, SN_EINVAL, "%s.%s is given twice", t->name, c->name);
        int rc = schema_value_validate(t, c, &fields[i].value, true, err);
        if (rc == 0)
            rc = check_reference(w, t, c, &fields[i].value, err);
        if (rc != 0)
            return rc;
    }
    /* Required columns present; mv columns always carried (nil when not given). */
    size_t nout = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        const schema_column *col = &t->cols[c];
        bool given = false;
        for (size_t i = 0; i < nfields; i++)
            given |= fields[i].col == col->id && fields[i].value.kind != SCHEMA_V_NIL;
        if (col->required && !given) {
            sn_err_set(err, SN_EINVAL, "%s.%s is required", t->name, col->name);
            sn_err_hint(err, "give it with --%s VALUE", col->name);
            return SN_EINVAL;
        }
        if (given || col->kind == SCHEMA_MV)
            nout++;
    }
    schema_change *ch;
    int rc = add_change(w, &ch, err);
    if (rc != 0)
        return rc;
    ch->fields = sn_calloc(nout == 0 ? 1 : nout, sizeof *ch->fields);
    if (ch->fields == NULL)
        return sn_err_set(err, SN_ENOMEM, "out of memory building a commit");
    w->n++; /* owned by the write from here on */
    ch->op = SCHEMA_OP_INSERT;
    ch->table = table;
    /* In column-id order: schema tables list their columns in id order. */
    for (size_t c = 0; c < t->ncols; c++) {
        const schema_column *col = &t->cols[c];
        schema_value v = schema_value_nil();
        for (size_t i = 0; i < nfields; i++)
            if (fields[i].col == col->id)
                v = fields[i].value;
        if (v.kind == SCHEMA_V_NIL && col->kind != SCHEMA_MV)
            continue;
        rc = copy_value(w, &v, err);
        if (rc != 0) {
            /* Leave the write as it was before this call. */
            sn_free(ch->fields);
            w->n--;
            return rc;
        }
        ch->fields[ch->nfields++] = (schema_field){.col = col->id, .value = v};
    }
    schema_id_generate(ch->row, node_now_ms(w->st));
    memcpy(row_out, ch->row, SCHEMA_ID_LEN);
    return 0;
}

int node_write_set(node_write *w, uint16_t table, const uint8_t row[SCHEMA_ID_LEN],
                   uint16_t col, const schema_value *value, sn_err *err)
{
    const schema_table *t = schema_table_by_id(table);
    if (t == NULL)
        return sn_err_set(err, SN_EINVAL, "unknown table id %u", table);
    const schema_column *c = schema_column_by_id(t, col);
    if (c == NULL)
        return sn_err_set(err, SN_EINVAL, "table %s has no column with id %u", t->name, col);
    if (c->kind != SCHEMA_MV) {
        sn_err_set(err, SN_EINVAL, "%s.%s is fixed: it cannot change once recorded", t->name,
                   c->name);
        sn_err_hint(err, "retract the %s with a reason and record a corrected one", t->name);
        return SN_EINVAL;
    }
    int rc = schema_value_validate(t, c, value, true, err);
    if (rc == 0)
        rc = check_reference(w, t, c, value, err);
    if (rc != 0)
        return rc;
    char hex[33];
    schema_id_format(hex, row);
    for (size_t i = 0; i < w->n; i++) {
        const schema_change *o = &w->changes[i];
        if (o->table == table && memcmp(o->row, row, 16) == 0 &&
            (o->op == SCHEMA_OP_INSERT || o->col == col))
            return sn_err_set(err, SN_EINVAL,
                              "%s.%s of %s is already changed in this commit (one change per "
                              "cell per commit)", t->name, c->name, hex);
    }
    bool held;
    rc = row_is_held(w->st, table, row, &held, err);
    if (rc != 0)
        return rc;
    if (!held) {
        sn_err_set(err, SN_ENOTFOUND, "no %s with id %s is held on this node", t->name, hex);
        sn_err_hint(err, "check the id with `outpost list %s`", t->name);
        return SN_ENOTFOUND;
    }
    schema_change *ch;
    rc = add_change(w, &ch, err);
    if (rc != 0)
        return rc;
    w->n++;
    ch->op = SCHEMA_OP_SET;
    ch->table = table;
    memcpy(ch->row, row, 16);
    ch->col = col;
    ch->value = *value;
    rc = copy_value(w, &ch->value, err);
    if (rc != 0)
        w->n--;
    return rc;
}

/* Each set carries the cell's context as it is now: it supersedes every sibling held. */
static int fill_contexts(node_write *w, sn_err *err)
{
    for (size_t i = 0; i < w->n; i++) {
        schema_change *ch = &w->changes[i];
        if (ch->op != SCHEMA_OP_SET)
            continue;
        const schema_table *t = schema_table_by_id(ch->table);
        crdt_mv m;
        crdt_mv_init(&m);
        bool explicit_;
        int rc = node_cell_load(w->st, t, schema_column_by_id(t, ch->col), ch->row, &m,
                                &explicit_, err);
        if (rc == 0)
            rc = crdt_vv_copy(&ch->ctx, &m.ctx, err);
        crdt_mv_free(&m);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int node_write_audit(node_write *w, const char *user, const char *os_user,
                     node_audit_action action, const uint8_t *patient, const char *detail,
                     sn_err *err)
{
    /* Leave room for the "commit SEQ: " prefix added at commit. */
    if (strlen(detail) > NODE_AUDIT_DETAIL_MAX - 32)
        return sn_err_set(err, SN_EINVAL, "audit detail longer than %d bytes",
                          NODE_AUDIT_DETAIL_MAX - 32);
    if (strlen(user) > NODE_USER_ID_MAX || strlen(os_user) > NODE_USER_ID_MAX)
        return sn_err_set(err, SN_EINVAL, "audit user names longer than %d bytes",
                          NODE_USER_ID_MAX);
    w->audit.wanted = true;
    w->audit.action = (char)action;
    w->audit.has_patient = patient != NULL;
    if (patient != NULL)
        memcpy(w->audit.patient, patient, 16);
    snprintf(w->audit.user, sizeof w->audit.user, "%s", user);
    snprintf(w->audit.os_user, sizeof w->audit.os_user, "%s", os_user);
    snprintf(w->audit.detail, sizeof w->audit.detail, "%s", detail);
    return 0;
}

int node_write_commit(node_write *w, node_commit_info *info, sn_err *err)
{
    node_store *st = w->st;
    if (w->n == 0) {
        node_write_abort(w);
        return sn_err_set(err, SN_EINVAL, "nothing to commit");
    }
    int rc = node_txn_begin(st, err);
    if (rc != 0) {
        node_write_abort(w);
        return rc;
    }
    uint64_t seq = st->self_held + 1;
    schema_commit c = {
        .schema_version = SCHEMA_VERSION,
        .origin = st->self,
        .seq = seq,
        .hlc = crdt_clock_tick(&st->clock, node_now_ms(st)),
        .author = w->author,
        .entered_by = w->entered_by,
        .changes = w->changes,
        .nchanges = w->n,
    };
    rc = fill_contexts(w, err);
    sn_buf_reset(&st->scratch);
    if (rc == 0)
        rc = schema_commit_encode(&c, &st->scratch, err);
    uint8_t link[32];
    if (rc == 0) {
        sync_chain_next(link, st->self_link, st->scratch.data, st->scratch.len);
        sqlite3_stmt *s = st->stmts[ST_LOG_INSERT];
        sqlite3_bind_int64(s, 1, NODE_LOG_KEY(st->self_idx, seq));
        sqlite3_bind_int64(s, 2, (int64_t)c.hlc);
        sqlite3_bind_blob(s, 3, st->scratch.data, (int)st->scratch.len, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, 0);
        sqlite3_bind_blob(s, 5, link, 32, SQLITE_STATIC);
        rc = node_stmt_exec(st, s, err, "storing a commit");
    }
    if (rc == 0)
        rc = node_apply_commit(st, &c, st->self_idx, NULL, true, err);
    if (rc == 0 && w->audit.wanted) {
        /* node_write_audit left 32 bytes of room for this prefix. */
        char detail[NODE_AUDIT_DETAIL_MAX + 64];
        snprintf(detail, sizeof detail, "commit %llu: %s", (unsigned long long)seq,
                 w->audit.detail);
        rc = node_audit_append_in_txn(st, w->audit.user, w->audit.os_user, w->audit.action,
                                      w->audit.has_patient ? w->audit.patient : NULL, detail,
                                      err);
    }
    /* Inside a batch the origin row is written once, at batch commit. */
    if (rc == 0 && st->batch_depth == 0) {
        node_origin_state os = {.held = seq, .applied = seq};
        memcpy(os.link, link, 32);
        rc = node_origin_state_put(st, st->self_idx, &os, err);
    }
    rc = node_txn_end(st, rc, err);
    if (rc == 0) {
        st->self_held = seq;
        memcpy(st->self_link, link, 32);
        st->self_dirty = st->batch_depth > 0;
        if (info != NULL)
            *info = (node_commit_info){.seq = seq, .hlc = c.hlc};
    }
    node_write_abort(w);
    return rc;
}
