/* /actors/{id}/executions: the list with accounting totals, one execution,
 * and its logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/model.h"
#include "api.h"

void api_executions_list(api_req_t *r) {
  json_t *list = NULL;
  int rc = model_exec_list(r->ctx->mongo, r->db_id, &list);
  if (rc != 0) {
    api_store_error(r, rc, "execution");
    return;
  }
  json_t *summaries = json_array();
  json_int_t cpu = 0, io = 0, runtime = 0;
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    json_array_append_new(summaries, api_exec_summary(e));
    cpu += json_integer_value(json_object_get(e, "cpu"));
    io += json_integer_value(json_object_get(e, "io"));
    runtime += json_integer_value(json_object_get(e, "runtime"));
  }
  const char *id = json_string_value(json_object_get(r->actor, "id"));
  const char *owner = json_string_value(json_object_get(r->actor, "owner"));
  char self[512];
  snprintf(self, sizeof(self), "%s/executions", id);
  json_t *res = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:o}", "actor_id", id,
                          "owner", owner ? owner : "", "executions", summaries,
                          "total_executions", (json_int_t)json_array_size(list), "total_cpu",
                          cpu, "total_io", io, "total_runtime", runtime, "_links",
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
