/* What the launcher tells others: INSTANCE_* events on the events channel
 * (built on the pool after the effect is stored, published from the loop
 * without waiting), the instance_audit documents, and the AWS call
 * counters the api renders on /metrics. */
#include <stdlib.h>
#include <string.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "channels/proto/event.h"
#include "launcher.h"

char *launcher_event_text(const char *type, const json_t *rec) {
  chan_instance_event_t e = {.type = type, .instance = rec};
  json_t *b = chan_instance_event_body(&e);
  char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
  json_decref(b);
  return text;
}

static void on_published(chan_conn_t *c, int status, void *ud) {
  (void)c;
  char *text = ud;
  if (status != 0)
    LOG_WARN("launcher", "could not publish an instance event (%s): %.200s",
             actor_strerror(status), text);
  free(text);
}

void launcher_event_publish(launcher_t *l, char *text) {
  if (text == NULL)
    return;
  int rc = chan_publish(l->conn, CHAN_EVENTS, text, strlen(text), NULL, on_published, text);
  if (rc != 0) {
    LOG_WARN("launcher", "could not publish an instance event (%s): %.200s", actor_strerror(rc),
             text);
    free(text);
  }
}

void launcher_audit(launcher_t *l, const json_t *rec, const char *who, const char *action,
                    const char *code, const char *message, const char *request_id) {
  if (l->mongo == NULL)
    return;
  const json_t *ec2 = json_object_get(rec, "ec2_instance_id");
  json_t *doc = json_pack(
      "{s:s, s:s, s:O, s:s, s:s, s:s, s:s, s:s, s:s}", "tenant", actor_json_str(rec, "tenant", ""),
      "instance_id", actor_json_str(rec, "id", ""), "ec2_instance_id",
      json_is_string(ec2) ? (json_t *)ec2 : json_null(), "who",
      who && *who ? who : actor_json_str(rec, "owner", ""), "action", action, "outcome",
      code ? "error" : "ok", "code", code ? code : "", "message", message ? message : "",
      "request_id", request_id ? request_id : "");
  int rc = doc ? cloud_audit_add(l->mongo, doc) : ACTOR_ENOMEM;
  if (rc != 0)
    LOG_WARN("launcher", "instance %s: could not write the audit of %s: %s",
             actor_json_str(rec, "id", ""), action, actor_strerror(rc));
  json_decref(doc);
}

char *launcher_fail(launcher_t *l, json_t *rec, const char *const *from, const char *who,
                    const char *action, const char *op, const char *code, const char *message,
                    const char *request_id) {
  const char *tenant = actor_json_str(rec, "tenant", "");
  const char *id = actor_json_str(rec, "id", "");
  LOG_ERROR("launcher", "instance %s:%s: %s failed: %s %s", tenant, id, action, code, message);
  int rc = cloud_instance_backend_error(l->redis, tenant, id, op, code, message,
                                        request_id ? request_id : "");
  if (rc != 0)
    LOG_WARN("launcher", "instance %s:%s: could not record the error: %s", tenant, id,
             actor_strerror(rc));
  bool moved_on = false; /* the record left `from` meanwhile: no INSTANCE_ERROR */
  if (from != NULL) {
    char now[ACTOR_TIME_MAX];
    actor_time_format(actor_time_now_ms(), now);
    json_t *f = json_pack("{s:s, s:s, s:s}", "state", "failed", "error", message, "enacted", now);
    rc = f ? cloud_instance_transition(l->redis, tenant, id, from, f) : ACTOR_ENOMEM;
    moved_on = rc == ACTOR_ESTATE;
    if (rc == 0)
      json_object_update(rec, f);
    else if (rc != ACTOR_ESTATE)
      LOG_WARN("launcher", "instance %s:%s: could not record the failure: %s", tenant, id,
               actor_strerror(rc));
    json_decref(f);
  }
  json_object_set_new(rec, "error", json_string(message));
  launcher_audit(l, rec, who, action, code, message, request_id);
  return moved_on ? NULL : launcher_event_text(CHAN_EVENT_INSTANCE_ERROR, rec);
}

void launcher_observe_aws(void *data, const char *op, const aws_result_t *res) {
  launcher_t *l = data;
  int rc = cloud_metrics_aws_call(l->redis, op, aws_class_name(res->cls), res->throttled);
  if (rc != 0)
    LOG_DEBUG("launcher", "could not count an AWS call: %s", actor_strerror(rc));
}
