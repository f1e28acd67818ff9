/* Search (docs/api.md "Routes"): GET /actors/search/{actors|workers|executions|logs}
 * with `search` (substring, any case), `exactsearch`, `skip`, `limit` and
 * conditions `<field>=<v>` or `<field>.<op>=<v>`, op one of eq neq gt gte
 * lt lte in nin like nlike between; fields may be dotted paths into
 * objects. The scope is Abaco's: the caller's tenant, and only actors on
 * which the caller's own user name has a permission entry (and their
 * workers, executions and logs) -- an ABACO_WORLD grant does not count,
 * administrators are not widened, and what belongs to a deleted actor
 * (its permissions are gone) never comes back. The internal fields Abaco
 * strips never come out: _id, permissions, tenant everywhere, plus
 * api_server, db_id and executions of actors and exp of logs (and our own
 * actor_dbid).
 *
 * Design note. Actors and workers live in Redis: they are loaded (the
 * actors of the scope and their workers) and filtered here by
 * match_item(). Executions and logs live in MongoDB, where a collection
 * can be large: the conditions become one Mongo filter (comparisons,
 * $in/$nin, $regex on an escaped substring; never $text or $where) ANDed
 * with the caller's scope {tenant, actor_dbid in the scope's actors}.
 * FerretDB v1 scans the whole collection for any filter but a bare _id
 * (seconds over tens of thousands of executions), so a search makes that
 * scan once, asking only for the _ids of the matches (the total count),
 * then reads the page (skip, limit <= SEARCH_LIMIT_MAX, in _id order) by
 * _id, which its index serves.
 *
 * Values: a time (YYYY-MM-DD...) is normalised to the stored form
 * (2026-11-22T14:45:41.591Z), which orders as a time; a JSON number,
 * boolean or null is that value (eq/neq also match its text); anything
 * else is a string. `in`/`nin` take a JSON list of scalars, `between`
 * takes "a,b" (inclusive). like/nlike are case-insensitive substrings. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/model.h"
#include "actor/timefmt.h"

#define SEARCH_LIMIT_DEFAULT 100
#define SEARCH_LIMIT_MAX 1000
#define SEARCH_CONDS_MAX 32
/* Most matches of an executions/logs search that are counted. */
#define SEARCH_SCAN_MAX 200000
#define PINNED_MAX 10000 /* search_pinned: most executions read one by one */
#define SEARCH_FIELD_MAX 128

typedef enum {
  OP_EQ,
  OP_NEQ,
  OP_GT,
  OP_GTE,
  OP_LT,
  OP_LTE,
  OP_IN,
  OP_NIN,
  OP_LIKE,
  OP_NLIKE,
  OP_BETWEEN,
  OP_COUNT
} op_t;
static const char *const OPS[OP_COUNT] = {"eq", "neq", "gt",   "gte",   "lt",     "lte",
                                          "in", "nin", "like", "nlike", "between"};

typedef struct {
  char field[SEARCH_FIELD_MAX];
  op_t op;
  json_t *value; /* scalar; array for in/nin; [a, b] for between */
  const char *raw;
} cond_t;

typedef struct {
  cond_t conds[SEARCH_CONDS_MAX];
  int n;
  const char *search, *exact;
  long long skip, limit;
} query_t;

static void query_free(query_t *q) {
  for (int i = 0; i < q->n; i++)
    json_decref(q->conds[i].value);
}

/* A time in any form actor_time_parse reads, starting YYYY-MM-DD. */
static bool as_time(const char *raw, char out[ACTOR_TIME_MAX]) {
  int64_t ms;
  if (strlen(raw) < 10 || !isdigit((unsigned char)raw[0]) || raw[4] != '-' || raw[7] != '-')
    return false;
  if (actor_time_parse(raw, &ms) != 0)
    return false;
  actor_time_format(ms, out);
  return true;
}

static json_t *typed(const char *raw) {
  char iso[ACTOR_TIME_MAX];
  if (as_time(raw, iso))
    return json_string(iso);
  json_t *v = json_loads(raw, JSON_DECODE_ANY, NULL);
  if (v && (json_is_number(v) || json_is_boolean(v) || json_is_null(v)))
    return v;
  json_decref(v);
  return json_string(raw);
}

static bool field_ok(const char *f) {
  size_t n = strlen(f);
  if (n == 0 || n >= SEARCH_FIELD_MAX || f[0] == '.' || f[n - 1] == '.' || strstr(f, ".."))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)f[i]) && f[i] != '_' && f[i] != '.')
      return false;
  return true;
}

/* One `key=value` query parameter into a condition; 0 or -1 after 400. */
static int parse_cond(api_req_t *r, const char *key, const char *raw, cond_t *c) {
  const char *dot = strrchr(key, '.');
  size_t flen = strlen(key);
  c->op = OP_EQ;
  if (dot) {
    for (int i = 0; i < OP_COUNT; i++)
      if (strcmp(dot + 1, OPS[i]) == 0) {
        c->op = (op_t)i;
        flen = (size_t)(dot - key);
      }
  }
  if (flen >= SEARCH_FIELD_MAX) {
    api_error(r, 400, "Invalid search field '%.64s...': too long.", key);
    return -1;
  }
  memcpy(c->field, key, flen);
  c->field[flen] = '\0';
  if (!field_ok(c->field)) {
    api_error(r, 400, "Invalid search field '%s': letters, digits, '_' and '.' only.", key);
    return -1;
  }
  c->raw = raw;
  if (c->op == OP_IN || c->op == OP_NIN) {
    json_t *list = json_loads(raw, JSON_DECODE_ANY, NULL), *v;
    size_t i;
    bool ok = json_is_array(list) && json_array_size(list) <= 1000;
    json_array_foreach(list, i, v) ok = ok && !json_is_object(v) && !json_is_array(v);
    if (!ok) {
      json_decref(list);
      api_error(r, 400, "Invalid value for %s.%s: a JSON list of strings or numbers.", c->field,
                OPS[c->op]);
      return -1;
    }
    json_t *typed_list = json_array();
    json_array_foreach(list, i, v) {
      char iso[ACTOR_TIME_MAX];
      if (json_is_string(v) && as_time(json_string_value(v), iso))
        json_array_append_new(typed_list, json_string(iso));
      else
        json_array_append(typed_list, v);
    }
    json_decref(list);
    c->value = typed_list;
  } else if (c->op == OP_BETWEEN) {
    const char *comma = strchr(raw, ',');
    if (comma == NULL || strchr(comma + 1, ',') != NULL) {
      api_error(r, 400, "Invalid value for %s.between: two values 'a,b'.", c->field);
      return -1;
    }
    char *a = strndup(raw, (size_t)(comma - raw));
    c->value = json_pack("[o,o]", typed(a ? a : ""), typed(comma + 1));
    free(a);
  } else if (c->op == OP_LIKE || c->op == OP_NLIKE) {
    c->value = json_string(raw);
  } else {
    c->value = typed(raw);
  }
  if (c->value == NULL) {
    api_error(r, 400, "Invalid value for %s.", key);
    return -1;
  }
  return 0;
}

static int parse_query(api_req_t *r, query_t *q) {
  const ahttp_kvs_t *kv = &r->http->query;
  memset(q, 0, sizeof(*q));
  q->limit = SEARCH_LIMIT_DEFAULT;
  for (size_t i = 0; i < kv->n; i++) {
    const char *k = kv->items[i].key, *v = kv->items[i].value ? kv->items[i].value : "";
    if (strcmp(k, "x-nonce") == 0)
      continue;
    if (strcmp(k, "search") == 0 || strcmp(k, "exactsearch") == 0) {
      *(k[0] == 's' ? &q->search : &q->exact) = v;
      continue;
    }
    if (strcmp(k, "skip") == 0 || strcmp(k, "limit") == 0) {
      char *end = NULL;
      long long n = strtoll(v, &end, 10);
      if (*v == '\0' || *end != '\0' || n < 0) {
        api_error(r, 400, "Invalid %s: a non-negative integer.", k);
        return -1;
      }
      if (k[0] == 's')
        q->skip = n;
      else
        q->limit = n > SEARCH_LIMIT_MAX ? SEARCH_LIMIT_MAX : n;
      continue;
    }
    if (q->n == SEARCH_CONDS_MAX) {
      api_error(r, 400, "Too many search conditions (at most %d).", SEARCH_CONDS_MAX);
      return -1;
    }
    if (parse_cond(r, k, v, &q->conds[q->n]) != 0)
      return -1;
    q->n++;
  }
  return 0;
}

/* ---- matching loaded objects (actors, workers) ---- */

static const json_t *get_path(const json_t *obj, const char *path) {
  char buf[SEARCH_FIELD_MAX];
  snprintf(buf, sizeof(buf), "%s", path);
  const json_t *cur = obj;
  for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
    cur = json_is_object(cur) ? json_object_get(cur, t) : NULL;
  return cur;
}

static bool text_of(const json_t *v, char *buf, size_t size) {
  if (json_is_string(v))
    snprintf(buf, size, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(buf, size, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v))
    snprintf(buf, size, "%g", json_real_value(v));
  else if (json_is_boolean(v))
    snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
  else
    return false;
  return true;
}

static bool scalar_eq(const json_t *v, const json_t *q, const char *raw) {
  if (v == NULL)
    return false;
  if (json_equal((json_t *)v, (json_t *)q))
    return true;
  if (json_is_number(v) && json_is_number(q))
    return json_number_value(v) == json_number_value(q);
  return raw && json_is_string(v) && strcmp(json_string_value(v), raw) == 0;
}

/* <0, 0, >0, or 2 when the two cannot be ordered. */
static int order(const json_t *v, const json_t *q) {
  if (json_is_number(v) && json_is_number(q)) {
    double a = json_number_value(v), b = json_number_value(q);
    return a < b ? -1 : a > b;
  }
  if (json_is_string(v) && json_is_string(q)) {
    int c = strcmp(json_string_value(v), json_string_value(q));
    return c < 0 ? -1 : c > 0;
  }
  return 2;
}

static bool contains_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0)
      return true;
  return n == 0;
}

static bool cond_match(const json_t *obj, const cond_t *c) {
  const json_t *v = get_path(obj, c->field);
  char buf[4096];
  size_t i;
  json_t *e;
  int o;
  switch (c->op) {
  case OP_EQ: return scalar_eq(v, c->value, c->raw);
  case OP_NEQ: return !scalar_eq(v, c->value, c->raw);
  case OP_GT: return v && (o = order(v, c->value)) != 2 && o > 0;
  case OP_GTE: return v && (o = order(v, c->value)) != 2 && o >= 0;
  case OP_LT: return v && (o = order(v, c->value)) != 2 && o < 0;
  case OP_LTE: return v && (o = order(v, c->value)) != 2 && o <= 0;
  case OP_IN:
  case OP_NIN: {
    bool found = false;
    json_array_foreach(c->value, i, e) found = found || scalar_eq(v, e, NULL);
    return c->op == OP_IN ? found : !found;
  }
  case OP_LIKE:
  case OP_NLIKE: {
    bool has = v && text_of(v, buf, sizeof(buf)) && contains_ci(buf, json_string_value(c->value));
    return c->op == OP_LIKE ? has : !has;
  }
  case OP_BETWEEN: {
    int lo = v ? order(v, json_array_get(c->value, 0)) : 2;
    int hi = v ? order(v, json_array_get(c->value, 1)) : 2;
    return lo != 2 && hi != 2 && lo >= 0 && hi <= 0;
  }
  default: return false;
  }
}

/* Whether any string (or number) anywhere in v contains / equals text. */
static bool any_value(const json_t *v, const char *text, bool exact, int depth) {
  char buf[4096];
  if (depth > 16)
    return false;
  if (json_is_object(v)) {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) if (any_value(e, text, exact, depth + 1)) return true;
    return false;
  }
  if (json_is_array(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (any_value(e, text, exact, depth + 1)) return true;
    return false;
  }
  if (!text_of(v, buf, sizeof(buf)))
    return false;
  return exact ? strcmp(buf, text) == 0 : contains_ci(buf, text);
}

static bool match_item(const json_t *obj, const query_t *q) {
  if (q->search && !any_value(obj, q->search, false, 0))
    return false;
  if (q->exact && !any_value(obj, q->exact, true, 0))
    return false;
  for (int i = 0; i < q->n; i++)
    if (!cond_match(obj, &q->conds[i]))
      return false;
  return true;
}

/* ---- the actors in the caller's scope ---- */

/* The db_ids (array) and, when recs_out is not NULL, the records (array,
 * same order) of the actors of the caller's tenant on which the caller
 * has a permission entry of their own (api_own_entry). */
static int scope_actors(api_req_t *r, json_t **ids_out, json_t **recs_out) {
  json_t *ids = NULL;
  int rc = model_actor_list_ids(r->ctx->redis, r->ident.tenant, &ids);
  if (rc != 0)
    return rc;
  json_t *keep = json_array(), *recs = recs_out ? json_array() : NULL;
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    const char *db_id = json_string_value(id);
    bool mine = false;
    if ((rc = api_own_entry(r, "actor", db_id, &mine)) != 0)
      break;
    if (!mine)
      continue;
    if (recs) {
      json_t *actor = NULL;
      rc = model_actor_get(r->ctx->redis, db_id, &actor);
      if (rc == ACTOR_ENOTFOUND) {
        rc = 0;
        continue;
      }
      if (rc != 0)
        break;
      json_array_append_new(recs, actor);
    }
    json_array_append(keep, id);
  }
  json_decref(ids);
  if (rc == 0 && (keep == NULL || (recs_out && recs == NULL)))
    rc = ACTOR_ENOMEM;
  if (rc != 0) {
    json_decref(keep);
    json_decref(recs);
    return rc;
  }
  *ids_out = keep;
  if (recs_out)
    *recs_out = recs;
  return 0;
}

static json_t *metadata(long long total, const query_t *q, size_t returned) {
  return json_pack("{s:I, s:I, s:I, s:I}", "total_count", (json_int_t)total, "records_skipped",
                   (json_int_t)q->skip, "record_limit", (json_int_t)q->limit, "count_returned",
                   (json_int_t)returned);
}

static void answer(api_req_t *r, json_t *meta, json_t *items) {
  api_ok(r, "Search completed successfully.",
         json_pack("{s:o, s:o}", "_metadata", meta, "search", items));
}

/* Filters candidates (each: {"match": stored object, "show": displayed}). */
static void answer_loaded(api_req_t *r, const query_t *q, json_t *cands) {
  json_t *out = json_array();
  long long total = 0;
  size_t i;
  json_t *c;
  json_array_foreach(cands, i, c) {
    if (!match_item(json_object_get(c, "match"), q))
      continue;
    if (total >= q->skip && (long long)json_array_size(out) < q->limit)
      json_array_append(out, json_object_get(c, "show"));
    total++;
  }
  answer(r, metadata(total, q, json_array_size(out)), out);
}

static const char *const ACTOR_HIDDEN[] = {"db_id", "tenant",      "api_server", "executions",
                                           "_id",   "permissions", NULL};

/* Adds an actor's candidates to cands; non-zero stops the search. */
typedef int (*add_cands_fn)(api_req_t *r, const json_t *actor, json_t *cands);

/* Answers a search over what add_cands finds in each actor of the
 * scope; an error of add_cands is one of the workers' store. */
static void search_loaded(api_req_t *r, const query_t *q, add_cands_fn add_cands) {
  json_t *ids = NULL, *recs = NULL;
  int rc = scope_actors(r, &ids, &recs);
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return;
  }
  json_t *cands = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(recs, i, a) {
    if ((rc = add_cands(r, a, cands)) != 0)
      break;
  }
  if (rc != 0)
    api_store_error(r, rc, "worker");
  else
    answer_loaded(r, q, cands);
  json_decref(cands);
  json_decref(ids);
  json_decref(recs);
}

static int actor_cands(api_req_t *r, const json_t *a, json_t *cands) {
  json_t *m = json_deep_copy(a);
  for (int k = 0; ACTOR_HIDDEN[k]; k++)
    json_object_del(m, ACTOR_HIDDEN[k]);
  json_array_append_new(cands,
                        json_pack("{s:o, s:o}", "match", m, "show", api_actor_display(r, a)));
  return 0;
}

static int worker_cands(api_req_t *r, const json_t *a, json_t *cands) {
  json_t *workers = NULL;
  int rc = model_worker_list(r->ctx->redis, actor_json_str(a, "db_id", ""), &workers);
  if (rc != 0)
    return rc;
  size_t j;
  json_t *w;
  json_array_foreach(workers, j, w) {
    json_t *show = api_worker_display(r, w);
    json_object_del(show, "tenant"); /* Abaco strips it from search results */
    json_object_set_new(show, "actor_id", json_string(actor_json_str(a, "id", "")));
    json_t *m = json_deep_copy(show);
    /* match on the stored times (null, not "None") */
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
      json_t *stored = json_object_get(w, k);
      if (stored && json_is_null(stored))
        json_object_set_new(m, k, json_null());
    }
    json_array_append_new(cands, json_pack("{s:o, s:o}", "match", m, "show", show));
  }
  json_decref(workers);
  return 0;
}

/* ---- MongoDB searches (executions, logs) ---- */

/* A regex matching `text` literally. New reference. */
static json_t *literal_regex(const char *text) {
  size_t n = strlen(text);
  char *buf = malloc(2 * n + 1), *p = buf;
  if (buf == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (strchr("\\^$.|?*+()[]{}/-", text[i]))
      *p++ = '\\';
    *p++ = text[i];
  }
  *p = '\0';
  json_t *re = json_pack("{s:s, s:s}", "$regex", buf, "$options", "i");
  free(buf);
  return re;
}

typedef struct {
  const char *coll;
  const char *const *text_fields; /* for search/exactsearch */
  bool logs;                      /* logs: execution_id/id -> _id, actor_id -> actor_dbid */
} mongo_kind_t;

static const char *const EXEC_TEXT[] = {"id",         "actor_id",    "worker_id",
                                        "executor",   "status",      "message_received_time",
                                        "start_time", "finish_time", NULL};
static const char *const LOGS_TEXT[] = {"_id", "logs", NULL};

/* A stored value of the field for a query value (logs keep actor_dbid). */
static json_t *stored_value(api_req_t *r, const mongo_kind_t *k, const char *field, json_t *v) {
  if (k->logs && strcmp(field, "actor_id") == 0 && json_is_string(v)) {
    char db_id[MODEL_KEY_MAX];
    model_db_id(r->ident.tenant, json_string_value(v), db_id);
    return json_string(db_id);
  }
  return json_incref(v);
}

static json_t *cond_filter(api_req_t *r, const mongo_kind_t *k, const cond_t *c) {
  const char *f = c->field;
  if (k->logs && (strcmp(f, "execution_id") == 0 || strcmp(f, "id") == 0))
    f = "_id";
  else if (k->logs && strcmp(f, "actor_id") == 0)
    f = "actor_dbid";
  static const char *const CMP[] = {
      [OP_GT] = "$gt", [OP_GTE] = "$gte", [OP_LT] = "$lt", [OP_LTE] = "$lte"};
  json_t *alts, *e;
  size_t i;
  switch (c->op) {
  case OP_EQ:
  case OP_NEQ:
    alts = json_pack("[o]", stored_value(r, k, c->field, c->value));
    if (!json_is_string(c->value)) { /* "5" may also be stored as text */
      json_t *text = json_string(c->raw);
      json_array_append_new(alts, stored_value(r, k, c->field, text));
      json_decref(text);
    }
    return json_pack("{s:{s:o}}", f, c->op == OP_EQ ? "$in" : "$nin", alts);
  case OP_GT:
  case OP_GTE:
  case OP_LT:
  case OP_LTE: return json_pack("{s:{s:o}}", f, CMP[c->op], stored_value(r, k, c->field, c->value));
  case OP_IN:
  case OP_NIN:
    alts = json_array();
    json_array_foreach(c->value, i, e) json_array_append_new(alts, stored_value(r, k, c->field, e));
    return json_pack("{s:{s:o}}", f, c->op == OP_IN ? "$in" : "$nin", alts);
  case OP_LIKE: return json_pack("{s:o}", f, literal_regex(json_string_value(c->value)));
  case OP_NLIKE:
    return json_pack("{s:[{s:o}]}", "$nor", f, literal_regex(json_string_value(c->value)));
  case OP_BETWEEN:
    return json_pack("{s:{s:o, s:o}}", f, "$gte",
                     stored_value(r, k, c->field, json_array_get(c->value, 0)), "$lte",
                     stored_value(r, k, c->field, json_array_get(c->value, 1)));
  default: return NULL;
  }
}

static json_t *text_filter(const mongo_kind_t *k, const char *text, bool exact) {
  json_t *any = json_array();
  for (int i = 0; k->text_fields[i]; i++)
    json_array_append_new(any, json_pack("{s:o}", k->text_fields[i],
                                         exact ? json_string(text) : literal_regex(text)));
  return json_pack("{s:o}", "$or", any);
}

static const char *const EXEC_HIDDEN[] = {"_id", "actor_dbid", "tenant", "exp", "permissions",
                                          "api_server", NULL};
static const char *const TIMES[] = {"message_received_time", "start_time", "finish_time", NULL};

/* A found execution or log as shown, with Abaco's _links: an execution
 * links itself, its executor and its logs; a log its own path, the
 * actor's owner and the execution. */
static json_t *mongo_display(api_req_t *r, const mongo_kind_t *k, const json_t *doc) {
  const char *db_id = actor_json_str(doc, "actor_dbid", "");
  const char *aid = model_db_id_actor(db_id), *eid = actor_json_str(doc, "_id", "");
  char self[512], rel[600];
  snprintf(self, sizeof(self), "%s/executions/%s", aid, eid);
  if (k->logs) {
    json_t *actor = NULL; /* for its owner; gone meanwhile (or unreadable): no owner */
    ACTOR_IGNORE(model_actor_get(r->ctx->redis, db_id, &actor));
    snprintf(rel, sizeof(rel), "%s/logs", self);
    json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "execution_id", eid, "actor_id", aid, "logs",
                            actor_json_str(doc, "logs", ""), "_links",
                            api_links(r, rel, actor_json_str(actor, "owner", ""), "execution",
                                      self));
    json_decref(actor);
    return out;
  }
  json_t *out = json_deep_copy(doc);
  for (int i = 0; out && EXEC_HIDDEN[i]; i++)
    json_object_del(out, EXEC_HIDDEN[i]);
  for (int i = 0; out && TIMES[i]; i++)
    if (json_is_null(json_object_get(out, TIMES[i])))
      json_object_set_new(out, TIMES[i], json_string("None"));
  snprintf(rel, sizeof(rel), "%s/logs", self);
  if (out)
    json_object_set_new(out, "_links",
                        api_links(r, self, actor_json_str(doc, "executor", ""), "logs", rel));
  return out;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The actor an executions search names by `actor_id=<id>` (eq, a
 * string), or NULL. */
static const cond_t *pinned_actor(const query_t *q) {
  for (int i = 0; i < q->n; i++)
    if (strcmp(q->conds[i].field, "actor_id") == 0 && q->conds[i].op == OP_EQ &&
        json_is_string(q->conds[i].value))
      return &q->conds[i];
  return NULL;
}

/* The Mongo filter's meaning (cond_filter, text_filter) evaluated here on
 * a stored execution: text search over the EXEC_TEXT strings, like/nlike
 * on strings only (a $regex matches nothing else). */
static bool exec_matches(api_req_t *r, const json_t *doc, const query_t *q) {
  if (strcmp(actor_json_str(doc, "tenant", ""), r->ident.tenant) != 0)
    return false;
  for (int t = 0; t < 2; t++) {
    const char *text = t ? q->exact : q->search;
    if (text == NULL)
      continue;
    bool any = false;
    for (int i = 0; !any && EXEC_TEXT[i]; i++) {
      const json_t *v = json_object_get(doc, EXEC_TEXT[i]);
      any = json_is_string(v) && (t ? strcmp(json_string_value(v), text) == 0
                                    : contains_ci(json_string_value(v), text));
    }
    if (!any)
      return false;
  }
  for (int i = 0; i < q->n; i++) {
    const cond_t *c = &q->conds[i];
    if ((c->op == OP_LIKE || c->op == OP_NLIKE) && !json_is_string(get_path(doc, c->field))) {
      if (c->op == OP_LIKE)
        return false;
      continue;
    }
    if (!cond_match(doc, c))
      return false;
  }
  return true;
}

/* Appends to out the display of the page (q->skip, q->limit) of the
 * documents eids[0..n), each read by _id: from the executions of the actor
 * db_id, or with db_id NULL from k's collection. One deleted meanwhile is
 * passed over. */
static int fetch_page(api_req_t *r, const query_t *q, const mongo_kind_t *k, const char *db_id,
                      const char **eids, size_t n, json_t *out) {
  int rc = 0;
  for (size_t j = (size_t)q->skip; rc == 0 && j < n && (long long)json_array_size(out) < q->limit;
       j++) {
    json_t *doc = NULL;
    if (db_id) {
      rc = model_exec_get(r->ctx->mongo, db_id, eids[j], &doc);
    } else {
      json_t *one = json_pack("{s:s}", "_id", eids[j]);
      rc = one ? store_mongo_find_one(r->ctx->mongo, k->coll, one, NULL, &doc) : ACTOR_ENOMEM;
      json_decref(one);
    }
    if (rc == ACTOR_ENOTFOUND) { /* deleted meanwhile */
      rc = 0;
      continue;
    }
    if (rc == 0)
      json_array_append_new(out, mongo_display(r, k, doc));
    json_decref(doc);
  }
  return rc;
}

/* An executions search that names an actor (of the scope), with the
 * executions' indexes built: its candidates are the actor's executions
 * (its index), each read by _id and matched here -- the cost of the
 * actor's executions, not of the collection. An actor with more than
 * PINNED_MAX executions is left to the scan (one find per id would cost
 * more), which gives the same answer.
 * 1: answered; 0: not applicable (the caller scans). */
static int search_pinned(api_req_t *r, const query_t *q, const mongo_kind_t *k,
                         const json_t *scope) {
  const cond_t *pin = pinned_actor(q);
  bool built = false;
  if (k->logs || pin == NULL || model_exec_index_built(r->ctx->redis, &built) != 0 || !built)
    return 0;
  char db_id[MODEL_KEY_MAX];
  model_db_id(r->ident.tenant, json_string_value(pin->value), db_id);
  bool in_scope = false;
  size_t i;
  json_t *id;
  json_array_foreach(scope, i, id) in_scope = in_scope || strcmp(json_string_value(id), db_id) == 0;
  if (in_scope) { /* one find per id: beyond PINNED_MAX ids the scan is cheaper */
    model_exec_totals_t t;
    if (model_exec_count(r->ctx->redis, db_id, &t) != 0 || t.count > PINNED_MAX)
      return 0;
  }
  json_t *ids = NULL, *out = json_array();
  int rc = out ? 0 : ACTOR_ENOMEM;
  if (rc == 0 && in_scope)
    rc = model_exec_ids(r->ctx->redis, db_id, 0, SEARCH_SCAN_MAX, &ids);
  /* the matches' ids only (borrowed from ids), never their documents */
  const char **eids = rc == 0 ? calloc(json_array_size(ids) + 1, sizeof(*eids)) : NULL;
  if (rc == 0 && eids == NULL)
    rc = ACTOR_ENOMEM;
  size_t n = 0;
  json_array_foreach(ids, i, id) {
    json_t *doc = NULL;
    if (rc == 0)
      rc = model_exec_get(r->ctx->mongo, db_id, json_string_value(id), &doc);
    if (rc == ACTOR_ENOTFOUND) { /* indexed, gone meanwhile */
      rc = 0;
      continue;
    }
    if (rc == 0 && exec_matches(r, doc, q))
      eids[n++] = json_string_value(id);
    json_decref(doc);
  }
  if (eids)
    qsort(eids, n, sizeof(*eids), cmp_str); /* the scan's order: by _id */
  if (rc == 0)
    rc = fetch_page(r, q, k, db_id, eids, n, out);
  free(eids);
  json_decref(ids);
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, "execution");
    return 1;
  }
  answer(r, metadata((long long)n, q, json_array_size(out)), out);
  return 1;
}

static void search_mongo(api_req_t *r, const query_t *q, const mongo_kind_t *k) {
  json_t *ids = NULL, *filter = NULL, *opts = NULL, *docs = NULL;
  int rc = scope_actors(r, &ids, NULL);
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return;
  }
  if (search_pinned(r, q, k, ids)) {
    json_decref(ids);
    return;
  }
  json_t *all = json_array();
  json_array_append_new(all, json_pack("{s:s}", "tenant", r->ident.tenant));
  json_array_append_new(all, json_pack("{s:{s:O}}", "actor_dbid", "$in", ids));
  if (q->search)
    json_array_append_new(all, text_filter(k, q->search, false));
  if (q->exact)
    json_array_append_new(all, text_filter(k, q->exact, true));
  for (int i = 0; i < q->n; i++) {
    json_t *f = cond_filter(r, k, &q->conds[i]);
    if (f == NULL) {
      rc = ACTOR_ENOMEM;
      break;
    }
    json_array_append_new(all, f);
  }
  filter = json_pack("{s:o}", "$and", all);
  /* One scan for the ids of every match (the count), then the page by
   * _id, which FerretDB serves from its index. */
  opts = json_pack("{s:{s:i}, s:i}", "projection", "_id", 1, "limit", SEARCH_SCAN_MAX);
  if (rc == 0 && (filter == NULL || opts == NULL))
    rc = ACTOR_ENOMEM;
  if (rc == 0)
    rc = store_mongo_find(r->ctx->mongo, k->coll, filter, opts, &docs);
  size_t total = json_array_size(docs), n = 0;
  const char **eids = rc == 0 ? calloc(total + 1, sizeof(*eids)) : NULL;
  if (rc == 0 && eids == NULL)
    rc = ACTOR_ENOMEM;
  if (rc != 0) {
    api_store_error(r, rc, k->logs ? "logs" : "execution");
    goto cleanup;
  }
  size_t i;
  json_t *d;
  json_array_foreach(docs, i, d) {
    const char *eid = json_string_value(json_object_get(d, "_id"));
    if (eid)
      eids[n++] = eid;
  }
  qsort(eids, n, sizeof(*eids), cmp_str);
  json_t *out = json_array();
  rc = fetch_page(r, q, k, NULL, eids, n, out);
  free(eids);
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, k->logs ? "logs" : "execution");
    goto cleanup;
  }
  answer(r, metadata((long long)n, q, json_array_size(out)), out);

cleanup:
  json_decref(docs);
  json_decref(opts);
  json_decref(filter);
  json_decref(ids);
}

void api_search(api_req_t *r) {
  static const mongo_kind_t EXECS = {MODEL_COLL_EXECUTIONS, EXEC_TEXT, false};
  static const mongo_kind_t LOGS = {MODEL_COLL_LOGS, LOGS_TEXT, true};
  const char *type = r->params[0];
  query_t q;
  if (parse_query(r, &q) != 0) {
    query_free(&q);
    return;
  }
  if (strcmp(type, "actors") == 0)
    search_loaded(r, &q, actor_cands);
  else if (strcmp(type, "workers") == 0)
    search_loaded(r, &q, worker_cands);
  else if (strcmp(type, "executions") == 0)
    search_mongo(r, &q, &EXECS);
  else if (strcmp(type, "logs") == 0)
    search_mongo(r, &q, &LOGS);
  else
    api_error(r, 400, "Invalid search type '%s': one of actors, workers, executions, logs.", type);
  query_free(&q);
}
