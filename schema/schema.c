/* schema/schema.c - the clinical schema tables (ids are stable forever), lookups, and the
 * validation, parsing and text form of cell values. */
#include "schema/schema.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "schema/nhs.h"

/* Shorthands for the column tables below. Ids, names, types and kinds are frozen once
 * released: add columns with new ids, never change or reuse one. */
#define FIXED_COL(id_, name_, type_)                                                           \
    .id = (id_), .name = (name_), .type = (type_), .kind = SCHEMA_FIXED
#define MV_COL(id_, name_, type_, disp_, pol_)                                                 \
    .id = (id_), .name = (name_), .type = (type_), .kind = SCHEMA_MV,                          \
    .display = CRDT_DISPLAY_##disp_, .policy = SCHEMA_POLICY_##pol_

enum { TABLE_PATIENT = 1, TABLE_ENCOUNTER = 4 };

/* ---- codes and safety orders ------------------------------------------------------- */

static const char *const nhs_status_codes[] = {"01", "02", "03", "04", "05", "06", "07", "08",
                                               NULL};
static const char *const gender_codes[] = {"male", "female", "other", "unknown", NULL};
static const char *const identifier_use_codes[] = {"usual", "official", "temp", "secondary",
                                                   "old", NULL};
static const char *const encounter_status_codes[] = {
    "planned",  "arrived",   "triaged",          "in-progress", "onleave",
    "finished", "cancelled", "entered-in-error", "unknown",     NULL};
static const char *const encounter_status_rank[] = {
    "entered-in-error", "cancelled", "finished", "in-progress", "onleave", "triaged",
    "arrived",          "planned",   NULL};
static const char *const encounter_class_codes[] = {"AMB", "VR", "HH", "FLD", "IMP", "EMER", NULL};
static const char *const note_heading_codes[] = {"history", "examination", "assessment",
                                                 "plan",    "comment",     "letter", NULL};
static const char *const allergy_category_codes[] = {"food", "medication", "environment",
                                                     "biologic", NULL};
static const char *const allergy_type_codes[] = {"allergy", "intolerance", NULL};
static const char *const allergy_criticality_codes[] = {"low", "high", "unable-to-assess", NULL};
static const char *const allergy_criticality_rank[] = {"high", "unable-to-assess", "low", NULL};
static const char *const allergy_status_codes[] = {"active", "inactive", "resolved", NULL};
static const char *const allergy_status_rank[] = {"active", "inactive", "resolved", NULL};
static const char *const allergy_verification_codes[] = {"unconfirmed", "confirmed", "refuted",
                                                         "entered-in-error", NULL};
static const char *const allergy_verification_rank[] = {"entered-in-error", "confirmed",
                                                        "unconfirmed", "refuted", NULL};
static const char *const allergy_severity_codes[] = {"mild", "moderate", "severe", NULL};
static const char *const allergy_severity_rank[] = {"severe", "moderate", "mild", NULL};
static const char *const condition_category_codes[] = {"problem-list-item",
                                                       "encounter-diagnosis", NULL};
static const char *const condition_status_codes[] = {"active",   "recurrence", "relapse",
                                                     "inactive", "remission",  "resolved", NULL};
static const char *const condition_status_rank[] = {"active",   "recurrence", "relapse",
                                                    "inactive", "remission",  "resolved", NULL};
static const char *const condition_verification_codes[] = {
    "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error",
    NULL};
static const char *const condition_verification_rank[] = {
    "entered-in-error", "confirmed", "provisional", "differential", "unconfirmed", "refuted",
    NULL};
static const char *const condition_significance_codes[] = {"major", "minor", NULL};
static const char *const observation_status_codes[] = {"final", "amended", "corrected",
                                                       "entered-in-error", NULL};
static const char *const observation_status_rank[] = {"entered-in-error", "corrected", "amended",
                                                      "final", NULL};

/* A stored NHS number is exactly its 10 digits (callers strip spaces first) with a valid
 * check digit. */
static int nhs_number_stored(const char *text, size_t n, sn_err *err)
{
    char typed[16], digits[11];
    if (n != 10)
        return sn_err_set(err, SN_EINVAL, "NHS number '%.*s' must be stored as exactly 10 digits",
                          (int)(n > 20 ? 20 : n), text);
    memcpy(typed, text, n);
    typed[n] = '\0';
    return schema_nhs_number_check(typed, digits, err);
}

/* ---- tables ------------------------------------------------------------------------ */

static const schema_column patient_cols[] = {
    {MV_COL(1, "nhs_number", SCHEMA_T_TEXT, LATEST, REVIEW), .local_check = nhs_number_stored,
     .help = "NHS number: 10 digits with a valid check digit"},
    {MV_COL(2, "nhs_number_status", SCHEMA_T_CODE, LATEST, AUTO), .codes = nhs_status_codes,
     .help = "NHS number trace status: 01 verified ... 08 postponed (baby under 6 weeks)"},
    {MV_COL(3, "family", SCHEMA_T_TEXT, LATEST, REVIEW), .required = true,
     .help = "Family name (surname) as officially recorded"},
    {MV_COL(4, "given", SCHEMA_T_TEXT, LATEST, REVIEW),
     .help = "Given name(s) as officially recorded"},
    {MV_COL(5, "birth_date", SCHEMA_T_DATE, LATEST, REVIEW),
     .help = "Date of birth, YYYY-MM-DD"},
    {MV_COL(6, "gender", SCHEMA_T_CODE, LATEST, REVIEW), .codes = gender_codes,
     .help = "Administrative gender: male, female, other or unknown"},
    {MV_COL(7, "address", SCHEMA_T_TEXT, LATEST, AUTO),
     .help = "Home address (street lines and town)"},
    {MV_COL(8, "postcode", SCHEMA_T_TEXT, LATEST, AUTO), .help = "Postcode of the home address"},
    {MV_COL(9, "phone", SCHEMA_T_TEXT, LATEST, AUTO), .help = "Contact telephone number"},
    {MV_COL(10, "deceased_at", SCHEMA_T_DATETIME, LATEST, REVIEW),
     .help = "Date and time of death, if the patient has died"},
};

static const schema_column patient_identifier_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The patient this identifier belongs to"},
    {FIXED_COL(2, "system", SCHEMA_T_TEXT), .required = true,
     .help = "Who issued the identifier (e.g. a hospital number or service number scheme)"},
    {FIXED_COL(3, "value", SCHEMA_T_TEXT), .required = true,
     .help = "The identifier itself, as written on the patient's documents"},
    {MV_COL(4, "use", SCHEMA_T_CODE, LATEST, AUTO), .codes = identifier_use_codes,
     .help = "How the identifier is used: usual, official, temp, secondary or old"},
    {MV_COL(5, "period_end", SCHEMA_T_DATE, LATEST, AUTO),
     .help = "Date the identifier stopped being valid, if it has"},
};

static const schema_column patient_link_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "One of the two patient records that are the same person"},
    {FIXED_COL(2, "other_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The other patient record that is the same person"},
    {FIXED_COL(3, "reason", SCHEMA_T_TEXT),
     .help = "Why the two records were judged to be the same person"},
};

static const schema_column encounter_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The patient seen"},
    {MV_COL(2, "status", SCHEMA_T_CODE, RANKED, REVIEW), .codes = encounter_status_codes,
     .rank = encounter_status_rank,
     .help = "State of the consultation, from planned to finished (or cancelled)"},
    {MV_COL(3, "class", SCHEMA_T_CODE, LATEST, AUTO), .codes = encounter_class_codes,
     .help = "Setting: AMB surgery, VR phone/video, HH home visit, FLD field, IMP inpatient, "
             "EMER emergency"},
    {MV_COL(4, "type_code", SCHEMA_T_TEXT, LATEST, AUTO),
     .help = "Kind of consultation (SNOMED CT code)"},
    {MV_COL(5, "start", SCHEMA_T_DATETIME, LATEST, REVIEW), .required = true,
     .help = "When the consultation started"},
    {MV_COL(6, "end", SCHEMA_T_DATETIME, LATEST, AUTO), .help = "When the consultation ended"},
    {MV_COL(7, "location", SCHEMA_T_TEXT, LATEST, AUTO), .help = "Where the patient was seen"},
    {MV_COL(8, "reason_code", SCHEMA_T_TEXT, LATEST, AUTO),
     .help = "Reason for the consultation (SNOMED CT code)"},
};

static const schema_column clinical_note_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The patient the note is about"},
    {FIXED_COL(2, "encounter_id", SCHEMA_T_REF), .ref_table = TABLE_ENCOUNTER,
     .help = "The consultation the note was written in, if any"},
    {FIXED_COL(3, "heading", SCHEMA_T_CODE), .required = true, .codes = note_heading_codes,
     .help = "Record heading: history, examination, assessment, plan, comment or letter"},
    {FIXED_COL(4, "text", SCHEMA_T_TEXT), .required = true, .help = "The note as written"},
};

static const schema_column allergy_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The patient who has the allergy"},
    {FIXED_COL(2, "code", SCHEMA_T_TEXT), .required = true,
     .help = "Substance or product (SNOMED CT or dm+d code)"},
    {FIXED_COL(3, "display", SCHEMA_T_TEXT),
     .help = "Substance or product in words, as the code describes it"},
    {FIXED_COL(4, "category", SCHEMA_T_CODE), .codes = allergy_category_codes,
     .help = "Kind of substance: food, medication, environment or biologic"},
    {MV_COL(5, "type", SCHEMA_T_CODE, LATEST, AUTO), .codes = allergy_type_codes,
     .help = "Allergy (immune reaction) or intolerance"},
    {MV_COL(6, "criticality", SCHEMA_T_CODE, RANKED, REVIEW), .codes = allergy_criticality_codes,
     .rank = allergy_criticality_rank,
     .help = "Risk of a future life-threatening reaction: low, high or unable-to-assess"},
    {MV_COL(7, "clinical_status", SCHEMA_T_CODE, RANKED, REVIEW), .codes = allergy_status_codes,
     .rank = allergy_status_rank, .help = "Whether the allergy is active, inactive or resolved"},
    {MV_COL(8, "verification", SCHEMA_T_CODE, RANKED, REVIEW),
     .codes = allergy_verification_codes, .rank = allergy_verification_rank,
     .help = "How certain it is: unconfirmed, confirmed, refuted or entered-in-error"},
    {MV_COL(9, "reaction_code", SCHEMA_T_TEXT, LATEST, AUTO),
     .help = "What happened in the reaction (SNOMED CT code)"},
    {MV_COL(10, "severity", SCHEMA_T_CODE, RANKED, AUTO), .codes = allergy_severity_codes,
     .rank = allergy_severity_rank, .help = "How bad the reaction was: mild, moderate or severe"},
    {FIXED_COL(11, "onset", SCHEMA_T_DATE), .help = "When the allergy first showed, YYYY-MM-DD"},
    {FIXED_COL(12, "recorded_date", SCHEMA_T_DATETIME),
     .help = "When the allergy was first recorded"},
};

static const schema_column condition_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The patient who has the condition"},
    {FIXED_COL(2, "code", SCHEMA_T_TEXT), .required = true,
     .help = "The problem or diagnosis (SNOMED CT code)"},
    {FIXED_COL(3, "display", SCHEMA_T_TEXT), .help = "The problem or diagnosis in words"},
    {FIXED_COL(4, "category", SCHEMA_T_CODE), .codes = condition_category_codes,
     .help = "Problem-list item or diagnosis made in one consultation"},
    {MV_COL(5, "clinical_status", SCHEMA_T_CODE, RANKED, REVIEW),
     .codes = condition_status_codes, .rank = condition_status_rank,
     .help = "Whether the condition is active, recurring, in remission or resolved"},
    {MV_COL(6, "verification", SCHEMA_T_CODE, RANKED, REVIEW),
     .codes = condition_verification_codes, .rank = condition_verification_rank,
     .help = "How certain the diagnosis is, from unconfirmed to confirmed or refuted"},
    {MV_COL(7, "significance", SCHEMA_T_CODE, LATEST, AUTO), .codes = condition_significance_codes,
     .help = "Major or minor problem"},
    {FIXED_COL(8, "onset", SCHEMA_T_DATE), .help = "When the condition began, YYYY-MM-DD"},
    {MV_COL(9, "abated", SCHEMA_T_DATE, LATEST, AUTO),
     .help = "When the condition resolved or went into remission, YYYY-MM-DD"},
    {FIXED_COL(10, "encounter_id", SCHEMA_T_REF), .ref_table = TABLE_ENCOUNTER,
     .help = "The consultation in which it was recorded, if any"},
};

static const schema_column observation_cols[] = {
    {FIXED_COL(1, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT, .required = true,
     .help = "The patient observed"},
    {FIXED_COL(2, "encounter_id", SCHEMA_T_REF), .ref_table = TABLE_ENCOUNTER,
     .help = "The consultation in which it was taken, if any"},
    {FIXED_COL(3, "code", SCHEMA_T_TEXT), .required = true,
     .help = "What was measured or observed (SNOMED CT code), e.g. blood pressure"},
    {FIXED_COL(4, "value_num", SCHEMA_T_REAL), .help = "Measured value as a number"},
    {FIXED_COL(5, "unit", SCHEMA_T_TEXT), .help = "Unit of the measured value (UCUM, e.g. mm[Hg])"},
    {FIXED_COL(6, "value_code", SCHEMA_T_TEXT), .help = "Coded result (SNOMED CT code)"},
    {FIXED_COL(7, "value_text", SCHEMA_T_TEXT), .help = "Result in words"},
    {FIXED_COL(8, "effective", SCHEMA_T_DATETIME), .required = true,
     .help = "When the observation was made"},
    {MV_COL(9, "status", SCHEMA_T_CODE, RANKED, REVIEW), .codes = observation_status_codes,
     .rank = observation_status_rank,
     .help = "Result status: final, amended, corrected or entered-in-error"},
};

static const schema_column retraction_cols[] = {
    {FIXED_COL(1, "target_id", SCHEMA_T_REF), .ref_table = SCHEMA_REF_ANY, .required = true,
     .help = "The record entered in error"},
    {FIXED_COL(2, "reason", SCHEMA_T_TEXT), .required = true,
     .help = "Why the record is wrong (kept in the record's history)"},
    {FIXED_COL(3, "patient_id", SCHEMA_T_REF), .ref_table = TABLE_PATIENT,
     .help = "The patient whose record it is"},
};

#define COLS(a) .cols = (a), .ncols = sizeof(a) / sizeof((a)[0])

static const schema_table tables[] = {
    {.id = 1, .name = "patient", .help = "A person registered for care", COLS(patient_cols),
     .patient_col = 0},
    {.id = 2, .name = "patient_identifier",
     .help = "Other identifiers a patient holds (hospital, service, prison numbers)",
     COLS(patient_identifier_cols), .patient_col = 1},
    {.id = 3, .name = "patient_link",
     .help = "A statement that two patient records are the same person",
     COLS(patient_link_cols), .patient_col = 1},
    {.id = 4, .name = "encounter", .help = "A consultation or contact with the patient",
     COLS(encounter_cols), .patient_col = 1},
    {.id = 5, .name = "clinical_note", .help = "A note written in the record",
     COLS(clinical_note_cols), .patient_col = 1},
    {.id = 6, .name = "allergy", .help = "An allergy or intolerance", COLS(allergy_cols),
     .patient_col = 1},
    {.id = 7, .name = "condition", .help = "A problem or diagnosis", COLS(condition_cols),
     .patient_col = 1},
    {.id = 8, .name = "observation",
     .help = "A measurement or finding (blood pressure, weight, HbA1c ...)",
     COLS(observation_cols), .patient_col = 1},
    {.id = 9, .name = "retraction", .help = "A correction: marks a record as entered in error",
     COLS(retraction_cols), .patient_col = 3},
};

#define NTABLES (sizeof tables / sizeof tables[0])

/* ---- lookups ----------------------------------------------------------------------- */

size_t schema_table_count(void) { return NTABLES; }

const schema_table *schema_table_at(size_t i) { return i < NTABLES ? &tables[i] : NULL; }

const schema_table *schema_table_by_id(uint16_t id)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (tables[i].id == id)
            return &tables[i];
    return NULL;
}

const schema_table *schema_table_by_name(const char *name)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}

int schema_column_index(const schema_table *t, uint16_t col_id)
{
    /* Columns are in id order; tables are small, so a binary search is all it needs. */
    size_t lo = 0, hi = t->ncols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->cols[mid].id == col_id)
            return (int)mid;
        if (t->cols[mid].id < col_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const schema_column *schema_column_by_id(const schema_table *t, uint16_t id)
{
    int i = schema_column_index(t, id);
    return i < 0 ? NULL : &t->cols[i];
}

const schema_column *schema_column_by_name(const schema_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

static bool text_is(const schema_value *v, const char *s)
{
    size_t n = strlen(s);
    return v->u.s.n == n && memcmp(v->u.s.p, s, n) == 0;
}

int32_t schema_column_rank(const schema_column *c, const schema_value *v)
{
    if (c->rank == NULL || v->kind != SCHEMA_V_TEXT)
        return 0;
    int32_t n = 0;
    while (c->rank[n] != NULL)
        n++;
    for (int32_t i = 0; i < n; i++)
        if (text_is(v, c->rank[i]))
            return n - i;
    return 0;
}

schema_vkind schema_type_vkind(schema_type t)
{
    switch (t) {
    case SCHEMA_T_INT: return SCHEMA_V_INT;
    case SCHEMA_T_REAL: return SCHEMA_V_REAL;
    case SCHEMA_T_REF: return SCHEMA_V_ID;
    case SCHEMA_T_TEXT:
    case SCHEMA_T_DATE:
    case SCHEMA_T_DATETIME:
    case SCHEMA_T_CODE: return SCHEMA_V_TEXT;
    }
    return SCHEMA_V_NIL;
}

const char *schema_type_name(schema_type t)
{
    switch (t) {
    case SCHEMA_T_TEXT: return "text";
    case SCHEMA_T_INT: return "integer";
    case SCHEMA_T_REAL: return "real";
    case SCHEMA_T_REF: return "id";
    case SCHEMA_T_DATE: return "date";
    case SCHEMA_T_DATETIME: return "datetime";
    case SCHEMA_T_CODE: return "code";
    }
    return "unknown type";
}

static const char *vkind_name(schema_vkind k)
{
    switch (k) {
    case SCHEMA_V_NIL: return "nothing (nil)";
    case SCHEMA_V_INT: return "an integer";
    case SCHEMA_V_REAL: return "a real number";
    case SCHEMA_V_TEXT: return "text";
    case SCHEMA_V_BLOB: return "binary data";
    case SCHEMA_V_ID: return "a record id";
    }
    return "an unknown kind of value";
}

/* ---- validation -------------------------------------------------------------------- */

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_is_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) {
            len = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Append "a, b, c" (the column's codes) to a fixed buffer, truncating politely. */
static void codes_list(char *out, size_t cap, const char *const *codes)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; codes[i] != NULL && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i == 0 ? "" : ", ", codes[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static int text_invalid(const schema_table *t, const schema_column *c, const schema_value *v,
                        const char *why, sn_err *err)
{
    int shown = v->u.s.n > 64 ? 64 : (int)v->u.s.n;
    return sn_err_set(err, SN_EINVAL, "%s.%s: '%.*s%s' %s", t->name, c->name, shown,
                      (const char *)v->u.s.p, v->u.s.n > 64 ? "..." : "", why);
}

int schema_value_validate(const schema_table *t, const schema_column *c, const schema_value *v,
                          bool local, sn_err *err)
{
    if (v->kind == SCHEMA_V_NIL) {
        if (local && c->required)
            return sn_err_set(err, SN_EINVAL,
                              "%s.%s is required: a new %s record must give it a value", t->name,
                              c->name, t->name);
        return 0;
    }
    schema_vkind want = schema_type_vkind(c->type);
    if (v->kind != want)
        return sn_err_set(err, SN_EINVAL, "%s.%s is of type %s and cannot hold %s", t->name,
                          c->name, schema_type_name(c->type), vkind_name(v->kind));
    if (!local)
        return 0;
    switch (c->type) {
    case SCHEMA_T_REAL:
        if (!isfinite(v->u.r))
            return sn_err_set(err, SN_EINVAL, "%s.%s: %g is not a finite number", t->name,
                              c->name, v->u.r);
        return 0;
    case SCHEMA_T_INT:
    case SCHEMA_T_REF: return 0;
    case SCHEMA_T_TEXT:
    case SCHEMA_T_DATE:
    case SCHEMA_T_DATETIME:
    case SCHEMA_T_CODE: break;
    }
    /* Text-held types from here on. Check encoding first so messages quote valid text. */
    if (!utf8_is_valid(v->u.s.p, v->u.s.n))
        return sn_err_set(err, SN_EINVAL, "%s.%s: the text is not valid UTF-8", t->name,
                          c->name);
    if (memchr(v->u.s.p, '\0', v->u.s.n) != NULL)
        return sn_err_set(err, SN_EINVAL, "%s.%s: the text contains a NUL character", t->name,
                          c->name);
    const char *s = (const char *)v->u.s.p;
    if (c->local_check != NULL) {
        int rc = c->local_check(s, v->u.s.n, err);
        if (rc != 0) {
            sn_err_prefix(err, "%s.%s", t->name, c->name);
            return rc;
        }
    }
    switch (c->type) {
    case SCHEMA_T_DATE:
        if (!schema_date_is_valid(s, v->u.s.n))
            return text_invalid(t, c, v, "is not a date (expected YYYY-MM-DD)", err);
        return 0;
    case SCHEMA_T_DATETIME:
        if (!schema_datetime_is_valid(s, v->u.s.n))
            return text_invalid(t, c, v,
                                "is not a date and time (expected YYYY-MM-DDTHH:MM, optionally "
                                "with :SS, .fff and Z or +HH:MM)",
                                err);
        return 0;
    case SCHEMA_T_CODE:
        for (size_t i = 0; c->codes != NULL && c->codes[i] != NULL; i++)
            if (text_is(v, c->codes[i]))
                return 0;
        char list[256];
        codes_list(list, sizeof list, c->codes != NULL ? c->codes : (const char *const[]){NULL});
        char why[300];
        snprintf(why, sizeof why, "is not an allowed code (allowed: %s)", list);
        return text_invalid(t, c, v, why, err);
    default: return 0;
    }
}

/* ---- text form --------------------------------------------------------------------- */

int schema_value_parse(const schema_table *t, const schema_column *c, const char *text,
                       schema_value *out, sn_err *err)
{
    if (text[0] == '\0') {
        if (c->required)
            return sn_err_set(err, SN_EINVAL, "%s.%s is required and cannot be empty", t->name,
                              c->name);
        *out = schema_value_nil();
        return 0;
    }
    /* strtoll and strtod skip leading space and accept forms (hex, "inf") nobody types
     * into a clinical record by intent; take only plain decimal. */
    switch (c->type) {
    case SCHEMA_T_INT: {
        const char *digits = text + (text[0] == '-' || text[0] == '+');
        if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
            return sn_err_set(err, SN_EINVAL, "%s.%s: '%.64s' is not a whole number", t->name,
                              c->name, text);
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno == ERANGE)
            return sn_err_set(err, SN_EINVAL,
                              "%s.%s: '%.64s' is out of range (%" PRId64 " to %" PRId64 ")",
                              t->name, c->name, text, INT64_MIN, INT64_MAX);
        if (end == text || *end != '\0')
            return sn_err_set(err, SN_EINVAL, "%s.%s: '%.64s' is not a whole number", t->name,
                              c->name, text);
        *out = schema_value_int((int64_t)v);
        return 0;
    }
    case SCHEMA_T_REAL: {
        char *end;
        errno = 0;
        double r = 0;
        bool plain = strspn(text, "+-.0123456789eE") == strlen(text);
        if (plain)
            r = strtod(text, &end);
        if (!plain || end == text || *end != '\0')
            return sn_err_set(err, SN_EINVAL, "%s.%s: '%.64s' is not a number (e.g. 37.5)",
                              t->name, c->name, text);
        if (!isfinite(r) || (errno == ERANGE && r != 0))
            return sn_err_set(err, SN_EINVAL, "%s.%s: '%.64s' is out of range", t->name, c->name,
                              text);
        *out = schema_value_real(r);
        return 0;
    }
    case SCHEMA_T_REF: {
        uint8_t id[SCHEMA_ID_LEN];
        if (schema_id_parse(id, text, NULL) != 0)
            return sn_err_set(err, SN_EINVAL,
                              "%s.%s: '%.64s' is not a record id (expected 32 hex digits, "
                              "dashes optional)",
                              t->name, c->name, text);
        *out = schema_value_id(id);
        return 0;
    }
    case SCHEMA_T_DATE:
        if (!schema_date_is_valid(text, strlen(text)))
            return sn_err_set(err, SN_EINVAL, "%s.%s: '%.64s' is not a date (expected YYYY-MM-DD)",
                              t->name, c->name, text);
        break;
    case SCHEMA_T_DATETIME:
        if (!schema_datetime_is_valid(text, strlen(text)))
            return sn_err_set(err, SN_EINVAL,
                              "%s.%s: '%.64s' is not a date and time (expected "
                              "YYYY-MM-DDTHH:MM, optionally with :SS, .fff and Z or +HH:MM)",
                              t->name, c->name, text);
        break;
    case SCHEMA_T_TEXT:
    case SCHEMA_T_CODE: break;
    }
    *out = schema_value_text(text);
    return 0;
}

/* Shortest "%.*g" that reads back as the same double. */
static int format_real(double r, sn_buf *out, sn_err *err)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, r);
        if (!isfinite(r) || strtod(tmp, NULL) == r)
            break;
    }
    return sn_buf_append_str(out, tmp, err);
}

int schema_value_format(const schema_value *v, sn_buf *out, sn_err *err)
{
    switch (v->kind) {
    case SCHEMA_V_NIL: return 0;
    case SCHEMA_V_INT: return sn_buf_appendf(out, err, "%" PRId64, v->u.i);
    case SCHEMA_V_REAL: return format_real(v->u.r, out, err);
    case SCHEMA_V_TEXT: return sn_buf_append(out, v->u.s.p, v->u.s.n, err);
    case SCHEMA_V_BLOB: {
        if (v->u.s.n > (SIZE_MAX - 1) / 2)
            return sn_err_set(err, SN_ETOOBIG, "cannot format %zu bytes as hex", v->u.s.n);
        int rc = sn_buf_reserve(out, 2 * v->u.s.n + 1, err);
        if (rc != 0)
            return rc;
        sn_hex((char *)out->data + out->len, v->u.s.p, v->u.s.n);
        out->len += 2 * v->u.s.n;
        return 0;
    }
    case SCHEMA_V_ID: {
        char hex[2 * SCHEMA_ID_LEN + 1];
        schema_id_format(hex, v->u.id);
        return sn_buf_append(out, hex, 2 * SCHEMA_ID_LEN, err);
    }
    }
    return sn_err_set(err, SN_EINVAL, "cannot format a value of unknown kind %d", (int)v->kind);
}
