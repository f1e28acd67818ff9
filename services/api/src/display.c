/* Store models -> what clients see: internal fields removed, unset times
 * shown as "None", and `_links` added. */
#include <stdio.h>
#include <string.h>

#include "api.h"

static const char *const ACTOR_INTERNAL[] = {"db_id", "tenant", "api_server", "executions",
                                             "_id", "permissions", NULL};
static const char *const EXEC_INTERNAL[] = {"_id", "actor_dbid", "tenant", "exp", NULL};
static const char *const WORKER_SHOWN[] = {
    "id", "status", "image", "location", "cid", "tenant", "ch_name", "host_id", "host_ip",
    "create_time", "last_execution_time", "last_health_check_time", NULL};
static const char *const TIME_FIELDS[] = {
    "create_time", "last_update_time", "message_received_time", "start_time", "finish_time",
    "last_execution_time", "last_health_check_time", NULL};

static void times_none(json_t *obj) {
  for (int i = 0; TIME_FIELDS[i]; i++) {
    json_t *v = json_object_get(obj, TIME_FIELDS[i]);
    if (v && json_is_null(v))
      json_object_set_new(obj, TIME_FIELDS[i], json_string("None"));
  }
}

json_t *api_links(api_req_t *r, const char *self_path, const char *owner, const char *rel,
                  const char *rel_path) {
  char buf[1024];
  json_t *links = json_object();
  if (links == NULL)
    return NULL;
  snprintf(buf, sizeof(buf), "%s/actors/v2/%s", r->api_server, self_path);
  json_object_set_new(links, "self", json_string(buf));
  snprintf(buf, sizeof(buf), "%s/profiles/v2/%s", r->api_server, owner ? owner : "");
  json_object_set_new(links, "owner", json_string(buf));
  if (rel && rel_path) {
    snprintf(buf, sizeof(buf), "%s/actors/v2/%s", r->api_server, rel_path);
    json_object_set_new(links, rel, json_string(buf));
  }
  return links;
}

json_t *api_actor_display(api_req_t *r, const json_t *actor) {
  json_t *out = json_deep_copy(actor);
  if (out == NULL)
    return NULL;
  for (int i = 0; ACTOR_INTERNAL[i]; i++)
    json_object_del(out, ACTOR_INTERNAL[i]);
  times_none(out);
  const char *id = json_string_value(json_object_get(actor, "id"));
  const char *owner = json_string_value(json_object_get(actor, "owner"));
  char rel[512];
  snprintf(rel, sizeof(rel), "%s/executions", id ? id : "");
  json_object_set_new(out, "_links", api_links(r, id ? id : "", owner, "executions", rel));
  return out;
}

json_t *api_exec_display(api_req_t *r, const json_t *exec) {
  json_t *out = json_deep_copy(exec);
  if (out == NULL)
    return NULL;
  for (int i = 0; EXEC_INTERNAL[i]; i++)
    json_object_del(out, EXEC_INTERNAL[i]);
  times_none(out);
  const char *aid = json_string_value(json_object_get(exec, "actor_id"));
  const char *eid = json_string_value(json_object_get(exec, "id"));
  const char *owner = json_string_value(json_object_get(r->actor, "owner"));
  char self[512], logs[600];
  snprintf(self, sizeof(self), "%s/executions/%s", aid ? aid : "", eid ? eid : "");
  snprintf(logs, sizeof(logs), "%s/logs", self);
  json_object_set_new(out, "_links", api_links(r, self, owner, "logs", logs));
  return out;
}

json_t *api_exec_summary(const json_t *exec) {
  json_t *out = json_object();
  static const char *const KEYS[] = {"id", "status", "start_time", "finish_time",
                                     "message_received_time", NULL};
  for (int i = 0; out && KEYS[i]; i++) {
    json_t *v = json_object_get(exec, KEYS[i]);
    json_object_set_new(out, KEYS[i], v ? json_incref(v) : json_null());
  }
  if (out)
    times_none(out);
  return out;
}

json_t *api_worker_display(api_req_t *r, const json_t *worker) {
  (void)r;
  json_t *out = json_object();
  for (int i = 0; out && WORKER_SHOWN[i]; i++) {
    json_t *v = json_object_get(worker, WORKER_SHOWN[i]);
    json_object_set_new(out, WORKER_SHOWN[i], v ? json_incref(v) : json_null());
  }
  if (out)
    times_none(out);
  return out;
}
