/* Search over MongoDB (executions, logs): the conditions of the query
 * become one Mongo filter ANDed with the caller's scope, see search.c's
 * design note; an executions search that names an actor reads that
 * actor's execution index instead of scanning. The query parsing, the
 * loaded searches (actors, workers) and the route are in search.c. */
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
                                    : search__contains_ci(json_string_value(v), text));
    }
    if (!any)
      return false;
  }
  for (int i = 0; i < q->n; i++) {
    const cond_t *c = &q->conds[i];
    if ((c->op == OP_LIKE || c->op == OP_NLIKE) &&
        !json_is_string(search__get_path(doc, c->field))) {
      if (c->op == OP_LIKE)
        return false;
      continue;
    }
    if (!search__cond_match(doc, c))
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
  search__answer(r, search__metadata((long long)n, q, json_array_size(out)), out);
  return 1;
}

static void search_mongo(api_req_t *r, const query_t *q, const mongo_kind_t *k) {
  json_t *ids = NULL, *filter = NULL, *opts = NULL, *docs = NULL;
  int rc = search__scope_actors(r, &ids, NULL);
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
  search__answer(r, search__metadata((long long)n, q, json_array_size(out)), out);

cleanup:
  json_decref(docs);
  json_decref(opts);
  json_decref(filter);
  json_decref(ids);
}

void search__mongo(api_req_t *r, const query_t *q, bool logs) {
  static const mongo_kind_t EXECS = {MODEL_COLL_EXECUTIONS, EXEC_TEXT, false};
  static const mongo_kind_t LOGS = {MODEL_COLL_LOGS, LOGS_TEXT, true};
  search_mongo(r, q, logs ? &LOGS : &EXECS);
}
