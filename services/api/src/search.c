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

#include "search_int.h"

static const char *const OPS[OP_COUNT] = {"eq", "neq", "gt",   "gte",   "lt",     "lte",
                                          "in", "nin", "like", "nlike", "between"};

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

const json_t *search__get_path(const json_t *obj, const char *path) {
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

bool search__contains_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0)
      return true;
  return n == 0;
}

bool search__cond_match(const json_t *obj, const cond_t *c) {
  const json_t *v = search__get_path(obj, c->field);
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
    bool has =
        v && text_of(v, buf, sizeof(buf)) && search__contains_ci(buf, json_string_value(c->value));
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
  return exact ? strcmp(buf, text) == 0 : search__contains_ci(buf, text);
}

static bool match_item(const json_t *obj, const query_t *q) {
  if (q->search && !any_value(obj, q->search, false, 0))
    return false;
  if (q->exact && !any_value(obj, q->exact, true, 0))
    return false;
  for (int i = 0; i < q->n; i++)
    if (!search__cond_match(obj, &q->conds[i]))
      return false;
  return true;
}

/* ---- the actors in the caller's scope ---- */

/* The db_ids (array) and, when recs_out is not NULL, the records (array,
 * same order) of the actors of the caller's tenant on which the caller
 * has a permission entry of their own (api_own_entry). */
int search__scope_actors(api_req_t *r, json_t **ids_out, json_t **recs_out) {
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

json_t *search__metadata(long long total, const query_t *q, size_t returned) {
  return json_pack("{s:I, s:I, s:I, s:I}", "total_count", (json_int_t)total, "records_skipped",
                   (json_int_t)q->skip, "record_limit", (json_int_t)q->limit, "count_returned",
                   (json_int_t)returned);
}

void search__answer(api_req_t *r, json_t *meta, json_t *items) {
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
  search__answer(r, search__metadata(total, q, json_array_size(out)), out);
}

static const char *const ACTOR_HIDDEN[] = {"db_id", "tenant",      "api_server", "executions",
                                           "_id",   "permissions", NULL};

/* Adds an actor's candidates to cands; non-zero stops the search. */
typedef int (*add_cands_fn)(api_req_t *r, const json_t *actor, json_t *cands);

/* Answers a search over what add_cands finds in each actor of the
 * scope; an error of add_cands is one of the workers' store. */
static void search_loaded(api_req_t *r, const query_t *q, add_cands_fn add_cands) {
  json_t *ids = NULL, *recs = NULL;
  int rc = search__scope_actors(r, &ids, &recs);
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

void api_search(api_req_t *r) {
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
    search__mongo(r, &q, false);
  else if (strcmp(type, "logs") == 0)
    search__mongo(r, &q, true);
  else
    api_error(r, 400, "Invalid search type '%s': one of actors, workers, executions, logs.", type);
  query_free(&q);
}
