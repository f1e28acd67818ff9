/* /actors/{id}/executions: the list with accounting totals, accounting
 * records added by clients, one execution, its force-quit, its logs and
 * its results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "api.h"

/* ?offset=&limit= (Abaco's names): non-negative integers; no limit is
 * every execution from offset, as Abaco's list. */
static int page_params(api_req_t *r, long long *offset, long long *limit) {
  static const char *const K[] = {"offset", "limit"};
  long long *dst[] = {offset, limit};
  *offset = 0;
  *limit = -1;
  for (int i = 0; i < 2; i++) {
    const char *v = ahttp_kvs_get(&r->http->query, K[i], 0);
    if (v == NULL)
      continue;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 0 || n > 1000000000LL) {
      api_error(r, 400, "Invalid %s: a non-negative integer.", K[i]);
      return -1;
    }
    *dst[i] = n;
  }
  return 0;
}

void api_executions_list(api_req_t *r) {
  long long offset, limit;
  if (page_params(r, &offset, &limit) != 0)
    return;
  json_t *list = NULL;
  model_exec_totals_t t = {0, 0, 0, 0};
  bool built = false;
  int rc = model_exec_index_built(r->ctx->redis, &built);
  if (rc == 0 && built) {
    /* The index: a page of ids and one find by _id each, and the totals
     * kept beside them -- the cost of the page, not of the collection. */
    rc = model_exec_count(r->ctx->redis, r->db_id, &t);
    if (rc == 0)
      rc = model_exec_page(r->ctx->redis, r->ctx->mongo, r->db_id, offset, limit, &list);
  } else if (rc == 0) {
    /* Indexes not built yet (being rebuilt): the scan, summed here. */
    rc = model_exec_list(r->ctx->mongo, r->db_id, &list);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      t.count++;
      t.cpu += json_integer_value(json_object_get(e, "cpu"));
      t.io += json_integer_value(json_object_get(e, "io"));
      t.runtime += json_integer_value(json_object_get(e, "runtime"));
    }
    if (rc == 0 && (offset > 0 || limit >= 0)) {
      json_t *page = json_array();
      for (size_t j = (size_t)offset;
           page && j < json_array_size(list) && (limit < 0 || (long long)(j - offset) < limit); j++)
        json_array_append(page, json_array_get(list, j));
      json_decref(list);
      list = page;
      rc = page ? 0 : ACTOR_ENOMEM;
    }
  }
  if (rc != 0) {
    json_decref(list);
    api_store_error(r, rc, "execution");
    return;
  }
  json_t *summaries = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e)
    json_array_append_new(summaries, api_exec_summary(e));
  const char *id = json_string_value(json_object_get(r->actor, "id"));
  const char *owner = json_string_value(json_object_get(r->actor, "owner"));
  char self[512];
  snprintf(self, sizeof(self), "%s/executions", id);
  json_t *res = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "actor_id", id,
                          "owner", owner ? owner : "", "executions", summaries,
                          "total_executions", (json_int_t)t.count, "total_cpu",
                          (json_int_t)t.cpu, "total_io", (json_int_t)t.io, "total_runtime",
                          (json_int_t)t.runtime, "_links",
                          api_links(r, self, owner, "owner", NULL));
  json_decref(list);
  api_ok(r, "Actor executions retrieved successfully.", res);
}

/* Loads {eid}; answers 404 itself when it is not this actor's. */
static json_t *load_exec(api_req_t *r) {
  json_t *exec = NULL;
  int rc = model_exec_get(r->ctx->mongo, r->db_id, r->params[1], &exec);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Execution with identifier '%s' not found", r->params[1]);
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, "execution");
    return NULL;
  }
  return exec;
}

void api_execution_get(api_req_t *r) {
  json_t *exec = load_exec(r);
  if (exec == NULL)
    return;
  api_ok(r, "Actor execution retrieved successfully.", api_exec_display(r, exec));
  json_decref(exec);
}

void api_execution_logs(api_req_t *r) {
  json_t *exec = load_exec(r);
  if (exec == NULL)
    return;
  json_decref(exec);
  char *logs = NULL;
  int rc = model_logs_get(r->ctx->mongo, r->db_id, r->params[1], &logs);
  if (rc != 0) {
    api_store_error(r, rc, "logs");
    return;
  }
  const char *id = json_string_value(json_object_get(r->actor, "id"));
  const char *owner = json_string_value(json_object_get(r->actor, "owner"));
  char self[512], ex[512];
  snprintf(self, sizeof(self), "%s/executions/%s/logs", id, r->params[1]);
  snprintf(ex, sizeof(ex), "%s/executions/%s", id, r->params[1]);
  json_t *res = json_pack("{s:s, s:o}", "logs", logs, "_links",
                          api_links(r, self, owner, "execution", ex));
  free(logs);
  api_ok(r, "Logs retrieved successfully.", res);
}

/* An accounting record (Abaco's Execution.add_execution): a finished
 * execution carrying the given runtime (s), cpu and io, counted in the
 * totals like any other. The result is the actor, as in Abaco. */
void api_executions_add(api_req_t *r) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  static const char *const FIELDS[] = {"runtime", "cpu", "io"};
  long long v[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    bool present = false;
    if (api_field_int(r, body, FIELDS[i], 0, &present, &v[i]) != 0) {
      json_decref(body);
      return;
    }
    if (!present) {
      json_decref(body);
      api_error(r, 400, "Invalid execution: %s is required (a non-negative integer).",
                FIELDS[i]);
      return;
    }
  }
  json_decref(body);
  char eid[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  if (actor_id_new(eid) != 0) {
    api_error(r, 500, "Could not generate an execution id.");
    return;
  }
  actor_time_format(actor_time_now_ms(), now);
  json_t *exec = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:I, s:I, s:I, s:n, s:n}", "_id",
      eid, "id", eid, "actor_id", actor_json_str(r->actor, "id", ""), "actor_dbid", r->db_id,
      "tenant", r->ident.tenant, "executor", r->ident.username, "status", EXEC_COMPLETE,
      "message_received_time", now, "start_time", now, "finish_time", now, "worker_id",
      "runtime", (json_int_t)v[0], "cpu", (json_int_t)v[1], "io", (json_int_t)v[2],
      "exit_code", "final_state");
  int rc = exec ? api_retention_index(r->ctx, exec) : ACTOR_ENOMEM; /* counts cpu/io/runtime */
  if (rc == 0) {
    rc = model_exec_insert(r->ctx->mongo, exec);
    if (rc != 0 && rc != ACTOR_EEXIST)
      api_retention_unindex(r->ctx, exec);
  }
  json_decref(exec);
  if (rc != 0) {
    api_store_error(r, rc, "execution");
    return;
  }
  LOG_INFO("api", "actor %s: accounting execution %s added", r->db_id, eid);
  api_ok(r, "Actor execution added successfully.", api_actor_display(r, r->actor));
}

void api_execution_force_quit(api_req_t *r) {
  json_t *exec = load_exec(r);
  if (exec == NULL)
    return;
  const char *status = actor_json_str(exec, "status", "");
  const char *wid = actor_json_str(exec, "worker_id", NULL);
  if (strcmp(status, EXEC_RUNNING) != 0) {
    api_error(r, 400, "Cannot force quit an execution not in RUNNING status. Execution was "
                      "found in status: %s",
              *status ? status : "None");
  } else if (wid == NULL || *wid == '\0') {
    api_error(r, 500, "Execution %s is RUNNING but names no worker to stop it.", r->params[1]);
  } else {
    int rc = api_worker_control(r, wid, "force_quit");
    if (rc != 0) {
      api_store_error(r, rc, "worker channel");
    } else {
      LOG_INFO("api", "actor %s execution %s: force quit sent to worker %s", r->db_id,
               r->params[1], wid);
      char msg[256];
      snprintf(msg, sizeof(msg), "Issued force quit command for execution %s.", r->params[1]);
      api_ok(r, msg, NULL);
    }
  }
  json_decref(exec);
}

/* Results are taken off the execution's results queue, one per request;
 * none left (or none ever) is an empty body. */
void api_execution_results(api_req_t *r) {
  json_t *exec = load_exec(r);
  if (exec == NULL)
    return;
  json_decref(exec);
  char q[CHAN_NAME_MAX];
  chan_name_results(r->db_id, r->params[1], q);
  char *bytes = NULL;
  size_t len = 0;
  int rc = api_consume(r->ctx, "results", q, &bytes, &len);
  if (rc == ACTOR_ENOTFOUND) {
    ahttp_respond(r->http, 200, "application/octet-stream", "", 0);
    return;
  }
  if (rc != 0) {
    api_store_error(r, rc, "results queue");
    return;
  }
  ahttp_respond_owned(r->http, 200, "application/octet-stream", bytes, len);
}
