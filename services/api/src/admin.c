/* Admin and utilization routes (API.md §3). /actors/admin* need the admin
 * role and show everything of the caller's tenant: the actors with their
 * workers, all workers, and the executions' accounting per actor.
 * /actors/utilization is open to every role and counts the caller's
 * tenant only: its current actors, the actors ever registered in it (a
 * Redis counter, so no scan of the executions), their workers, plus the
 * length of this api's command queues (shared by all tenants; they reveal
 * no object). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/model.h"
#include "actor/store_kv.h"

/* Every actor record of the tenant (new array). */
static int tenant_actors(api_req_t *r, json_t **out) {
  json_t *ids = NULL, *recs = json_array();
  int rc = model_actor_list_ids(r->ctx->redis, r->ident.tenant, &ids);
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    json_t *a = NULL;
    rc = model_actor_get(r->ctx->redis, json_string_value(id), &a);
    if (rc == ACTOR_ENOTFOUND) {
      rc = 0;
      continue;
    }
    if (rc != 0)
      break;
    json_array_append_new(recs, a);
  }
  json_decref(ids);
  if (rc != 0) {
    json_decref(recs);
    return rc;
  }
  *out = recs;
  return 0;
}

static json_t *workers_of(api_req_t *r, const json_t *actor, int *rc) {
  json_t *workers = NULL, *out = json_array();
  *rc = model_worker_list(r->ctx->redis, actor_json_str(actor, "db_id", ""), &workers);
  size_t i;
  json_t *w;
  json_array_foreach(workers, i, w) {
    json_t *d = api_worker_display(r, w);
    json_object_set_new(d, "actor_id", json_string(actor_json_str(actor, "id", "")));
    json_array_append_new(out, d);
  }
  json_decref(workers);
  return out;
}

/* The tenant's actors each with its workers (by_actor), or all their
 * workers in one list; a store error names `kind`. */
static void answer_workers(api_req_t *r, bool by_actor, const char *kind, const char *msg) {
  json_t *recs = NULL;
  if (api_require_admin(r) != 0)
    return;
  int rc = tenant_actors(r, &recs);
  json_t *out = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(recs, i, a) {
    if (by_actor) {
      json_t *d = api_actor_display(r, a);
      json_object_set_new(d, "workers", workers_of(r, a, &rc));
      json_array_append_new(out, d);
    } else {
      json_t *ws = workers_of(r, a, &rc);
      json_array_extend(out, ws);
      json_decref(ws);
    }
    if (rc != 0)
      break;
  }
  json_decref(recs);
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, kind);
    return;
  }
  api_ok(r, msg, out);
}

void api_admin_actors(api_req_t *r) {
  answer_workers(r, true, "actor", "Actors retrieved successfully.");
}

void api_admin_workers(api_req_t *r) {
  answer_workers(r, false, "worker", "Workers retrieved successfully.");
}

/* Most execution documents summed by /actors/admin/executions. */
#define ADMIN_EXECS_MAX 100000

void api_admin_executions(api_req_t *r) {
  if (api_require_admin(r) != 0)
    return;
  json_t *filter = json_pack("{s:s}", "tenant", r->ident.tenant);
  json_t *opts = json_pack("{s:{s:i, s:i, s:i, s:i}, s:i}", "projection", "actor_dbid", 1,
                           "runtime", 1, "cpu", 1, "io", 1, "limit", ADMIN_EXECS_MAX);
  json_t *docs = NULL;
  int rc = filter && opts
               ? store_mongo_find(r->ctx->mongo, MODEL_COLL_EXECUTIONS, filter, opts, &docs)
               : ACTOR_ENOMEM;
  json_decref(filter);
  json_decref(opts);
  if (rc != 0) {
    api_store_error(r, rc, "execution");
    return;
  }
  json_t *per = json_object(); /* actor id -> totals */
  json_int_t n = 0, runtime = 0, cpu = 0, io = 0;
  size_t i;
  json_t *d;
  json_array_foreach(docs, i, d) {
    const char *db_id = actor_json_str(d, "actor_dbid", "");
    const char *aid = model_db_id_actor(db_id);
    json_t *t = json_object_get(per, aid);
    if (t == NULL) {
      t = json_pack("{s:s, s:I, s:I, s:I, s:I}", "actor_id", aid, "total_executions", (json_int_t)0,
                    "total_execution_runtime", (json_int_t)0, "total_execution_cpu", (json_int_t)0,
                    "total_execution_io", (json_int_t)0);
      json_object_set_new(per, aid, t);
    }
    static const char *const F[] = {"runtime", "cpu", "io"};
    static const char *const T[] = {"total_execution_runtime", "total_execution_cpu",
                                    "total_execution_io"};
    json_int_t *sums[] = {&runtime, &cpu, &io};
    for (int k = 0; k < 3; k++) {
      json_int_t v = (json_int_t)actor_json_int(d, F[k], 0);
      *sums[k] += v;
      json_object_set_new(t, T[k], json_integer(json_integer_value(json_object_get(t, T[k])) + v));
    }
    json_object_set_new(
        t, "total_executions",
        json_integer(json_integer_value(json_object_get(t, "total_executions")) + 1));
    n++;
  }
  json_decref(docs);
  json_t *actors = json_array();
  const char *k;
  json_t *t;
  json_object_foreach(per, k, t) json_array_append(actors, t);
  json_t *out =
      json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "total_actors", (json_int_t)json_object_size(per),
                "total_executions", n, "total_execution_runtime", runtime, "total_execution_cpu",
                cpu, "total_execution_io", io, "actors", actors);
  json_decref(per);
  api_ok(r, "Executions retrieved successfully.", out);
}

void api_utilization(api_req_t *r) {
  json_t *ids = NULL;
  int rc = model_actor_list_ids(r->ctx->redis, r->ident.tenant, &ids);
  long long workers = 0, n;
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    if (rc != 0)
      break;
    rc = model_worker_count(r->ctx->redis, json_string_value(id), &n);
    workers += rc == 0 ? n : 0;
  }
  long long total = 0;
  if (rc == 0)
    rc = store_counter_get(r->ctx->redis, API_KEY_ACTORS_TOTAL, r->ident.tenant, &total);
  if (rc != 0) {
    json_decref(ids);
    api_store_error(r, rc, "utilization");
    return;
  }
  /* actors registered before the count existed are current ones at least */
  if (total < (long long)json_array_size(ids))
    total = (long long)json_array_size(ids);
  long command = 0;
  char *queues = strdup(r->ctx->host_queues ? r->ctx->host_queues : "default");
  for (char *save = NULL, *t = queues ? strtok_r(queues, ", ", &save) : NULL; t;
       t = strtok_r(NULL, ", ", &save)) {
    char name[CHAN_NAME_MAX];
    long len = 0;
    chan_name_command(t, name);
    if (chan_client_queue_len(r->ctx->chan, name, &len) == 0)
      command += len;
  }
  free(queues);
  json_t *out = json_pack("{s:I, s:I, s:I, s:I}", "currentActors", (json_int_t)json_array_size(ids),
                          "totalActors", (json_int_t)total, "workers", (json_int_t)workers,
                          "commandQueue", (json_int_t)command);
  json_decref(ids);
  api_ok(r, "Utilization retrieved successfully.", out);
}
