/* Sending one message to an actor: the path shared by POST .../messages
 * and the cron tick. The execution is stored first (SUBMITTED), then the
 * message goes to the mailbox and the broker's confirm is awaited; only
 * then is the execution id given out. If the broker cannot take the
 * message the execution is marked ERROR: nothing accepted is silently
 * dropped, and nothing is left SUBMITTED forever. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "api.h"

/* The mailbox message (docs/architecture.md "Channels"): metadata, then the extra
 * environment variables, then (text and JSON messages) the message. */
static json_t *mailbox_meta(const json_t *actor, const api_message_t *m, const char *eid) {
  json_t *meta =
      json_pack("{s:s, s:s, s:I, s:s, s:s}", "_abaco_execution_id", eid, "_abaco_Content_Type",
                m->content_type, "_abaco_actor_revision",
                json_integer_value(json_object_get(actor, "revision")), "_abaco_username",
                m->executor, "_abaco_api_server", m->api_server ? m->api_server : "");
  const char *k;
  json_t *v;
  if (meta && m->env)
    json_object_foreach((json_t *)m->env, k, v) json_object_set(meta, k, v);
  return meta;
}

static int publish(api_req_t *r, const json_t *actor, const api_message_t *m, json_t *meta) {
  int rc;
  if (m->bytes) {
    char *text = json_dumps(meta, JSON_COMPACT);
    chan_props_t props = {.content_type = "application/octet-stream", .nheaders = 1};
    props.headers[0].key = "abaco_meta";
    props.headers[0].value = text;
    rc = text ? api_mailbox_publish(r->ctx, actor, m->bytes, m->nbytes, &props, 5000)
              : ACTOR_ENOMEM;
    free(text);
  } else {
    json_object_set(meta, "message", m->message);
    char *text = json_dumps(meta, JSON_COMPACT);
    rc = text ? api_mailbox_publish(r->ctx, actor, text, strlen(text), NULL, 5000) : ACTOR_ENOMEM;
    free(text);
  }
  return rc;
}

int api_message_submit(api_req_t *r, const json_t *actor, const api_message_t *m,
                       char eid[ACTOR_ID_MAX], const char **what) {
  api_ctx_t *c = r->ctx;
  const char *db_id = actor_json_str(actor, "db_id", "");
  char now[ACTOR_TIME_MAX];
  json_t *exec = NULL, *meta = NULL;
  *what = "execution";
  int rc = actor_id_new(eid);
  if (rc != 0)
    return rc;
  actor_time_format(actor_time_now_ms(), now);
  exec =
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:i, s:i, s:i, "
                "s:n, s:n}",
                "_id", eid, "id", eid, "actor_id", actor_json_str(actor, "id", ""), "actor_dbid",
                db_id, "tenant", actor_json_str(actor, "tenant", ""), "executor", m->executor,
                "status", EXEC_SUBMITTED, "message_received_time", now, "start_time", "finish_time",
                "worker_id", "runtime", 0, "cpu", 0, "io", 0, "exit_code", "final_state");
  meta = mailbox_meta(actor, m, eid);
  if (exec == NULL || meta == NULL) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  /* Concurrent sends share one insert (group commit): the record is
   * stored before the message is queued, at a fraction of the round trips. */
  rc = store_batch_insert(c->exec_batch, exec);
  if (rc != 0)
    goto cleanup;
  rc = publish(r, actor, m, meta);
  if (rc != 0) {
    *what = "message queue";
    LOG_ERROR("api", "actor %s execution %s: mailbox publish failed: %s", db_id, eid,
              actor_strerror(rc));
    json_t *f = json_pack("{s:s, s:s}", "status", EXEC_ERROR, "status_message",
                          "the message could not be queued");
    if (f && model_exec_update(c->mongo, eid, f) == 0)
      api_metrics_execution(c, EXEC_ERROR);
    json_decref(f);
    goto cleanup;
  }
  api_metrics_execution(c, EXEC_SUBMITTED);
  int wrc = api_ensure_worker(r, actor);
  if (wrc != 0)
    LOG_WARN("api", "actor %s: no worker and none could be requested: %s", db_id,
             actor_strerror(wrc));

cleanup:
  json_decref(exec);
  json_decref(meta);
  return rc;
}
