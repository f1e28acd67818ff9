/* Messages from the clusters to actors (docs/clusters.md): the run_actor
 * action and the `actor` counters. A message is sent as the api sends one
 * (services/api/src/submit.c): the execution is stored SUBMITTED first,
 * then the message with its _abaco_* metadata is published to the actor's
 * mailbox (declared with its arguments) and confirmed. The api's
 * autoscaler starts a worker for the waiting message, as for any message
 * sent while an actor has none ([workers] autoscaling). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"
#include "channels/proto/mailbox.h"
#include "channels/proto/name.h"
#include "updater.h"

#define PUBLISH_TIMEOUT_MS 5000

int upd_actor_lookup(upd_cluster_ctx_t *x, const char *tenant, const char *ref, json_t **out) {
  char db_id[MODEL_KEY_MAX];
  *out = NULL;
  if (ref == NULL || *ref == '\0' || strlen(ref) > 128)
    return ACTOR_ENOTFOUND;
  model_db_id(tenant, ref, db_id);
  int rc = ACTOR_ENOTFOUND;
  if (strchr(ref, '_') == NULL && (rc = model_actor_get(x->redis, db_id, out)) != ACTOR_ENOTFOUND)
    return rc;
  char key[MODEL_KEY_MAX + 16];
  json_t *alias = NULL;
  snprintf(key, sizeof(key), "abaco:alias:%s", db_id);
  rc = store_record_get(x->redis, key, &alias);
  if (rc != 0)
    return rc;
  const char *target = json_string_value(json_object_get(alias, "db_id"));
  rc = target ? model_actor_get(x->redis, target, out) : ACTOR_ENOTFOUND;
  json_decref(alias);
  return rc;
}

int upd_actor_exec_store(upd_cluster_ctx_t *x, const json_t *actor, const char *eid,
                         const char *executor) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *exec = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:i, s:i, s:i, s:n, s:n}", "_id",
      eid, "id", eid, "actor_id", actor_json_str(actor, "id", ""), "actor_dbid",
      actor_json_str(actor, "db_id", ""), "tenant", actor_json_str(actor, "tenant", ""),
      "executor", executor, "status", EXEC_SUBMITTED, "message_received_time", now,
      "start_time", "finish_time", "worker_id", "runtime", 0, "cpu", 0, "io", 0, "exit_code",
      "final_state");
  json_t *one = exec ? json_pack("[O]", exec) : NULL;
  /* indexed first, as the api's executions (libactor exec_retention.c) */
  int rc = one ? model_exec_index_add(x->redis, one) : ACTOR_ENOMEM;
  if (rc == 0) {
    rc = model_exec_insert(x->mongo, exec);
    int urc = rc != 0 && rc != ACTOR_EEXIST ? model_exec_index_remove(x->redis, one) : 0;
    if (urc != 0)
      LOG_WARN("updater", "execution %s: cannot unindex it after a failed insert: %s", eid,
               actor_strerror(urc));
  }
  json_decref(one);
  json_decref(exec);
  return rc;
}

int upd_actor_publish(upd_cluster_ctx_t *x, const json_t *actor, const char *eid,
                      const char *executor, const char *message) {
  json_t *meta = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "_abaco_execution_id", eid,
                           "_abaco_Content_Type", "str", "_abaco_actor_revision",
                           (json_int_t)actor_json_int(actor, "revision", 1), "_abaco_username",
                           executor, "_abaco_api_server", "", "message", message);
  char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
  json_decref(meta);
  if (text == NULL)
    return ACTOR_ENOMEM;
  char q[CHAN_NAME_MAX];
  chan_queue_opts_t qo;
  chan_name_mailbox(actor_json_str(actor, "db_id", ""), q);
  chan_mailbox_opts(!actor_json_bool(actor, "stateless", true), &qo);
  int rc = chan_client_publish_to(x->chan, q, &qo, text, strlen(text), NULL, PUBLISH_TIMEOUT_MS);
  free(text);
  return rc;
}

int upd_number_in(const char *text, double *out) {
  for (const char *p = text; p && *p; p++) {
    if (isdigit((unsigned char)*p) ||
        ((*p == '-' || *p == '+' || *p == '.') && isdigit((unsigned char)p[1]))) {
      char *end = NULL;
      double v = strtod(p, &end);
      if (end != p) {
        *out = v;
        return 0;
      }
    }
  }
  return ACTOR_ENOTFOUND;
}

/* One `actor` counter at one tick: collects the number of the execution
 * sent earlier (its first number in the logs) as a sample, and sends the
 * next message when its schedule is due. State in the cluster's "cstate"
 * hash: {eid, sent_ms}. */
void upd_actor_counter_tick(upd_cluster_ctx_t *x, const char *tenant, const char *cid,
                            const char *kid, const json_t *counter, int64_t now_ms) {
  const json_t *src = json_object_get(counter, "source");
  json_t *st = NULL, *actor = NULL, *exec = NULL;
  char *logs = NULL;
  int rc = cluster_item_get(x->redis, tenant, cid, "cstate", kid, &st);
  if (rc == ACTOR_ENOTFOUND)
    st = json_object(), rc = st ? 0 : ACTOR_ENOMEM;
  if (rc != 0 || x->mongo == NULL)
    goto out;
  rc = upd_actor_lookup(x, tenant, actor_json_str(src, "actor", ""), &actor);
  if (rc != 0) {
    if (rc == ACTOR_ENOTFOUND)
      LOG_DEBUG("updater", "cluster %s:%s counter %s: actor %s not found", tenant, cid, kid,
                actor_json_str(src, "actor", ""));
    goto out;
  }
  const char *db_id = actor_json_str(actor, "db_id", "");
  const char *eid = actor_json_str(st, "eid", NULL);
  bool changed = false;
  if (eid) {
    rc = model_exec_get(x->mongo, db_id, eid, &exec);
    const char *status = rc == 0 ? actor_json_str(exec, "status", "") : "";
    if (rc == ACTOR_ENOTFOUND || strcmp(status, EXEC_ERROR) == 0) {
      json_object_del(st, "eid");
      changed = true;
    } else if (strcmp(status, EXEC_COMPLETE) == 0) {
      double v = 0;
      if (model_logs_get(x->mongo, db_id, eid, &logs) == 0 && upd_number_in(logs, &v) == 0) {
        rc = cluster_sample_add(x->redis, tenant, cid, kid, now_ms, v,
                                (size_t)actor_json_int(counter, "history", CLUSTER_HISTORY_DEFAULT));
        if (rc != 0)
          LOG_WARN("updater", "cluster %s:%s counter %s: sample not stored: %s", tenant, cid, kid,
                   actor_strerror(rc));
      } else {
        LOG_INFO("updater", "cluster %s:%s counter %s: execution %s printed no number", tenant,
                 cid, kid, eid);
      }
      json_object_del(st, "eid");
      changed = true;
    }
  }
  int64_t sent = (int64_t)actor_json_int(st, "sent_ms", 0);
  int64_t every = (int64_t)actor_json_int(src, "schedule", 60) * 1000;
  if (json_object_get(st, "eid") == NULL && now_ms - sent >= every) {
    char neweid[ACTOR_ID_MAX], executor[160];
    snprintf(executor, sizeof(executor), "cluster:%s", cid);
    if (actor_id_new(neweid) == 0 && upd_actor_exec_store(x, actor, neweid, executor) == 0 &&
        upd_actor_publish(x, actor, neweid, executor,
                          actor_json_str(src, "message", "sample")) == 0) {
      json_object_set_new(st, "eid", json_string(neweid));
      json_object_set_new(st, "sent_ms", json_integer(now_ms));
      changed = true;
    } else {
      LOG_WARN("updater", "cluster %s:%s counter %s: message to actor %s not sent", tenant, cid,
               kid, db_id);
    }
  }
  if (changed && cluster_item_put(x->redis, tenant, cid, "cstate", kid, st) != 0)
    LOG_WARN("updater", "cluster %s:%s counter %s: state not written", tenant, cid, kid);
out:
  free(logs);
  json_decref(exec);
  json_decref(actor);
  json_decref(st);
}
