/* Runs of a trigger's actions (updater.h; docs/clusters.md
 * "Actions and idempotency"). A run is recorded before anything is dispatched
 * (cluster_run_create), its actions run in order,
 * and each action's progress is written into the run as it goes, so a
 * run resumed after a crash (upd_cluster_runs_resume, every tick before
 * evaluating) neither loses nor repeats an action:
 *
 *   deploy_node  the new instance id is written into the action before
 *                the instance record is created; the record's create is
 *                "already exists: fine", the node is put under that id,
 *                and the launch message names it (the launcher launches a
 *                record once: its lease and CreateStack's token).
 *   remove_node  the chosen node is written into the action first; the
 *                instance's move to shutting-down is guarded and the
 *                terminate command is idempotent in the launcher.
 *   run_actor    the execution id is written into the action before the
 *                execution is stored and the message published
 *                (cluster_actor.c); published again only when the action
 *                has no message_published.
 *   notify       `sending` is written into the action before notify_run;
 *                a run resumed with it set sends again (at least once:
 *                only a crash between the send and the action's "done"
 *                repeats it; the context names the run).
 *   load balancer register (deploy_node, after the launch; waits for the
 *                node to run, `lb_wait_since_ms`) and deregister
 *                (remove_node, before the terminate; `deregistered`) are
 *                idempotent on AWS's side. Both are hooks (upd_notify_hook,
 *                upd_lb_hook) main.c sets to cluster_hooks.c's; unset, the
 *                action fails with "not configured". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cluster.h"
#include "actor/errors.h"
#include "actor/ids.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "updater.h"

upd_lb_hook_fn upd_lb_hook = NULL;
upd_notify_hook_fn upd_notify_hook = NULL;

#define PUBLISH_TIMEOUT_MS 5000

/* The test hook (only with [clusters] test_hooks): when the key
 * abaco:cluster:test:<point>:<tag> exists it is deleted and the process
 * kills itself with SIGKILL, as a crash at that point would. */
static void crash_point(upd_cluster_ctx_t *x, const char *point) {
  if (!x->test_hooks)
    return;
  char key[256];
  bool existed = false;
  snprintf(key, sizeof(key), "abaco:cluster:test:%s:%s", point, x->settings->tag);
  if (store_key_delete(x->redis, key, &existed) == 0 && existed) {
    LOG_WARN("updater", "test hook %s: killing this process", key);
    raise(SIGKILL);
  }
}

int upd_cluster_run_record(upd_cluster_ctx_t *x, const json_t *cluster, const json_t *trigger,
                           const json_t *decision, const json_t *state, char run_id[64]) {
  const char *tenant = actor_json_str(cluster, "tenant", "");
  const char *cid = actor_json_str(cluster, "id", "");
  const char *tid = actor_json_str(trigger, "id", "");
  char id[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  int64_t now_ms = actor_time_now_ms();
  actor_time_format(now_ms, now);
  int rc = actor_id_new(id);
  if (rc != 0)
    return rc;
  json_t *actions = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(trigger, "actions"), i, a) {
    json_t *st = json_is_string(a) ? json_pack("{s:O}", "type", a) : json_deep_copy(a);
    if (st && actions) {
      json_object_set_new(st, "status", json_string("pending"));
      json_array_append_new(actions, st);
    } else {
      json_decref(st);
    }
  }
  json_t *run = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:{s:O, s:s, s:I}, s:o, s:s, s:n, s:n, "
      "s:n}",
      "id", id, "tenant", tenant, "cluster", cid, "tag", x->settings->tag, "trigger", tid,
      "trigger_name", actor_json_str(trigger, "name", ""), "manual", 0, "who", "updater",
      "created", now, "created_ms", (json_int_t)now_ms, "inputs", "counters",
      json_object_get(decision, "values"), "reason", "threshold held",
      "nodes", (json_int_t)actor_json_int(decision, "nodes", 0), "actions",
      actions ? actions : json_array(), "status", "pending", "started", "finished", "error");
  rc = run ? cluster_run_create(x->redis, run) : ACTOR_ENOMEM;
  json_decref(run);
  if (rc != 0)
    return rc;
  snprintf(run_id, 64, "%s", id);
  crash_point(x, "after_record");
  /* the trigger's state and the cluster's last scale-out follow the run;
   * a crash before these is repaired by the resume (run_repair_state) */
  json_t *st = json_deep_copy(state);
  if (st) {
    json_object_set_new(st, "last_run", json_string(id));
    json_object_set_new(st, "last_outcome", json_string("pending"));
  }
  rc = st ? cluster_item_put(x->redis, tenant, cid, "tstate", tid, st) : ACTOR_ENOMEM;
  json_decref(st);
  if (rc == 0 && strcmp(actor_json_str(decision, "direction", ""), "out") == 0) {
    json_t *f = json_pack("{s:s, s:I}", "last_scale_out", now, "last_scale_out_ms",
                          (json_int_t)now_ms);
    rc = f ? cluster_update(x->redis, tenant, cid, f) : ACTOR_ENOMEM;
    json_decref(f);
  }
  return rc;
}

/* ---- nodes ---- */

/* Live nodes of the cluster: adopted ones, and managed ones whose
 * instance is not terminated/failed/shutting-down (or has no record yet).
 * -1 when the store failed. */
static long live_nodes(upd_cluster_ctx_t *x, const char *tenant, const char *cid,
                       json_t **nodes_out) {
  json_t *nodes = NULL;
  if (cluster_item_all(x->redis, tenant, cid, "nodes", &nodes) != 0)
    return -1;
  long n = 0;
  const char *k;
  json_t *node;
  json_object_foreach(nodes, k, node) {
    const char *iid = actor_json_str(node, "instance_id", NULL);
    json_t *inst = NULL;
    int rc = iid ? cloud_instance_get(x->redis, tenant, iid, &inst) : ACTOR_ENOTFOUND;
    const char *state = rc == 0 ? actor_json_str(inst, "state", "") : "";
    bool live = iid == NULL || rc == ACTOR_ENOTFOUND ||
                (rc == 0 && !cloud_state_terminal(state) && strcmp(state, "shutting-down") != 0);
    if (rc == 0)
      json_object_set_new(node, "state", json_string(state));
    json_object_set_new(node, "live", json_boolean(live));
    n += live ? 1 : 0;
    json_decref(inst);
  }
  if (nodes_out)
    *nodes_out = nodes;
  else
    json_decref(nodes);
  return n;
}

long upd_cluster_live_nodes(upd_cluster_ctx_t *x, const char *tenant, const char *cid) {
  return live_nodes(x, tenant, cid, NULL);
}

/* ---- actions: each returns 0 (done), a store error (run stays pending,
 * retried next tick), or ACTOR_EINVAL/ACTOR_ESTATE with err (the action
 * failed: the run stops) ---- */

typedef struct {
  upd_cluster_ctx_t *x;
  json_t *cluster;
  json_t *run;
  json_t *action; /* the run's entry: progress is written into it */
  size_t index;
} act_t;

/* Writes the run's actions (with this action's progress) back. */
static int save_actions(act_t *a) {
  json_t *f = json_pack("{s:O}", "actions", json_object_get(a->run, "actions"));
  int rc = f ? cluster_run_update(a->x->redis, actor_json_str(a->run, "tenant", ""),
                                  actor_json_str(a->run, "id", ""), f)
             : ACTOR_ENOMEM;
  json_decref(f);
  return rc;
}

static int do_deploy(act_t *a, char *err, size_t errlen) {
  upd_cluster_ctx_t *x = a->x;
  const char *tenant = actor_json_str(a->cluster, "tenant", "");
  const char *cid = actor_json_str(a->cluster, "id", "");
  const char *run_id = actor_json_str(a->run, "id", "");
  const char *iid = actor_json_str(a->action, "instance_id", NULL);
  int rc;
  char id[ACTOR_ID_MAX];
  if (iid == NULL) {
    long live = live_nodes(x, tenant, cid, NULL);
    if (live < 0)
      return ACTOR_ESTORE;
    long long max = actor_json_int(a->cluster, "max_nodes", 0);
    if (live >= max) {
      snprintf(err, errlen, "cluster %s is at max_nodes (%lld)", cid, max);
      return ACTOR_ESTATE;
    }
    if ((rc = actor_id_new(id)) != 0)
      return rc;
    json_object_set_new(a->action, "instance_id", json_string(id));
    if ((rc = save_actions(a)) != 0)
      return rc;
    iid = actor_json_str(a->action, "instance_id", "");
  }
  snprintf(id, sizeof(id), "%s", iid);
  char token[65], now[ACTOR_TIME_MAX], name[96];
  actor_time_now_text(now);
  if (actor_json_bool(a->action, "launch_published", false))
    goto registered; /* made and launched before: only the load balancer is left */
  if ((rc = actor_token_new(token)) != 0)
    return rc;
  snprintf(name, sizeof(name), "%.63s-node", actor_json_str(a->cluster, "name", "cluster"));
  json_t *group = NULL;
  const char *owner = actor_json_str(a->cluster, "owner", "");
  rc = cloud_group_for(x->redis, tenant, owner, NULL, &group);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    return rc;
  json_t *rec = cloud_instance_new_record(
      tenant, owner, name, actor_json_str(a->cluster, "config", ""),
      group ? actor_json_str(group, "name", NULL) : NULL,
      actor_json_str(a->cluster, "instance_type", ""), x->settings->tag, id, token, now);
  json_decref(group);
  if (rec == NULL)
    return ACTOR_ENOMEM;
  json_object_set_new(rec, "cluster", json_string(cid));
  json_object_set_new(rec, "cluster_run", json_string(run_id));
  rc = cloud_instance_create(x->redis, rec);
  json_decref(rec);
  if (rc == ACTOR_EEXIST)
    rc = 0; /* made before a crash: this run's own */
  if (rc != 0)
    return rc;
  json_t *node = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "kind", "managed",
                           "instance_id", id, "added", now, "run", run_id);
  rc = node ? cluster_item_put(x->redis, tenant, cid, "nodes", id, node) : ACTOR_ENOMEM;
  json_decref(node);
  if (rc != 0)
    return rc;
  if (!actor_json_bool(a->action, "launch_published", false)) {
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s}", "tenant", tenant, "instance_id", id,
                            "request_id", run_id, "who", owner);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    rc = text ? chan_client_publish(x->chan, x->settings->launch_queue, text, strlen(text), NULL,
                                    PUBLISH_TIMEOUT_MS)
              : ACTOR_ENOMEM;
    free(text);
    if (rc != 0)
      return rc;
    LOG_INFO("updater", "cluster %s:%s run %s: node %s launch requested", tenant, cid, run_id,
             id);
    crash_point(x, "after_launch");
    json_object_set_new(a->action, "launch_published", json_true());
    if ((rc = save_actions(a)) != 0)
      return rc;
  }
registered:
  if (json_is_string(json_object_get(a->cluster, "load_balancer")) &&
      !actor_json_bool(a->action, "registered", false)) {
    json_t *n = json_pack("{s:s, s:s}", "id", id, "instance_id", id);
    if (n == NULL)
      return ACTOR_ENOMEM;
    rc = upd_lb_hook ? upd_lb_hook(x, a->cluster, n, true, NULL, err, errlen) : ACTOR_ESTATE;
    json_decref(n);
    if (rc != 0 && upd_lb_hook == NULL)
      snprintf(err, errlen,
               "node %s launched, but load balancer %s: registration is not configured in "
               "this updater",
               id, actor_json_str(a->cluster, "load_balancer", ""));
    if (rc == UPD_LB_WAIT) {
      /* the node is not up yet: the run stays pending, tried next tick */
      int64_t now_ms = actor_time_now_ms();
      int64_t since = (int64_t)actor_json_int(a->action, "lb_wait_since_ms", 0);
      if (strcmp(actor_json_str(a->action, "waiting", ""), err) != 0) {
        /* a new reason: shown in the run, logged once */
        LOG_INFO("updater", "cluster %s:%s run %s: %s", tenant, cid, run_id, err);
        json_object_set_new(a->action, "waiting", json_string(err));
        if (since == 0)
          json_object_set_new(a->action, "lb_wait_since_ms", json_integer(now_ms));
        int src = save_actions(a);
        if (src != 0)
          return src;
      } else if (since > 0 && now_ms - since > UPD_LB_WAIT_MAX_MS) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, " (gave up after %lld min)",
                 (long long)(UPD_LB_WAIT_MAX_MS / 60000));
        return ACTOR_ESTATE;
      }
      LOG_DEBUG("updater", "cluster %s:%s run %s: %s", tenant, cid, run_id, err);
      return rc;
    }
    if (rc == ACTOR_EINVAL)
      rc = ACTOR_ESTATE;
    if (rc != 0)
      return rc; /* ACTOR_ESTATE fails the action; a store fault retries */
    json_object_del(a->action, "waiting");
    json_object_set_new(a->action, "registered", json_true());
    json_object_set_new(a->action, "load_balancer",
                        json_string(actor_json_str(a->cluster, "load_balancer", "")));
  }
  json_object_set_new(a->action, "result", json_pack("{s:s}", "instance_id", id));
  return 0;
}

static int do_remove(act_t *a, char *err, size_t errlen) {
  upd_cluster_ctx_t *x = a->x;
  const char *tenant = actor_json_str(a->cluster, "tenant", "");
  const char *cid = actor_json_str(a->cluster, "id", "");
  const char *run_id = actor_json_str(a->run, "id", "");
  int rc;
  if (json_object_get(a->action, "node") == NULL) {
    json_t *nodes = NULL;
    long live = live_nodes(x, tenant, cid, &nodes);
    if (live < 0)
      return ACTOR_ESTORE;
    long long min = actor_json_int(a->cluster, "min_nodes", 0);
    if (live <= min) {
      json_decref(nodes);
      snprintf(err, errlen, "cluster %s is at min_nodes (%lld)", cid, min);
      return ACTOR_ESTATE;
    }
    /* the newest live node, managed before adopted */
    const json_t *pick = NULL;
    const char *k;
    json_t *n;
    json_object_foreach(nodes, k, n) {
      if (!actor_json_bool(n, "live", false))
        continue;
      bool managed = json_object_get(n, "instance_id") != NULL;
      bool pick_managed = pick && json_object_get(pick, "instance_id") != NULL;
      if (pick == NULL || (managed && !pick_managed) ||
          (managed == pick_managed &&
           strcmp(actor_json_str(n, "added", ""), actor_json_str(pick, "added", "")) > 0))
        pick = n;
    }
    if (pick == NULL) {
      json_decref(nodes);
      snprintf(err, errlen, "cluster %s has no live node to remove", cid);
      return ACTOR_ESTATE;
    }
    json_object_set_new(a->action, "node", json_string(actor_json_str(pick, "id", "")));
    const char *iid = actor_json_str(pick, "instance_id", NULL);
    json_object_set_new(a->action, "instance_id", iid ? json_string(iid) : json_null());
    json_decref(nodes);
    if ((rc = save_actions(a)) != 0)
      return rc;
  }
  const char *nid = actor_json_str(a->action, "node", "");
  const char *iid = actor_json_str(a->action, "instance_id", NULL);
  if (json_is_string(json_object_get(a->cluster, "load_balancer")) &&
      !actor_json_bool(a->action, "deregistered", false)) {
    json_t *n = iid ? json_pack("{s:s, s:s}", "id", nid, "instance_id", iid)
                    : json_pack("{s:s}", "id", nid);
    if (n == NULL)
      return ACTOR_ENOMEM;
    int drain_s = 0;
    rc = upd_lb_hook ? upd_lb_hook(x, a->cluster, n, false, &drain_s, err, errlen)
                     : ACTOR_ESTATE;
    json_decref(n);
    if (rc != 0 && upd_lb_hook == NULL)
      snprintf(err, errlen,
               "load balancer %s: deregistration is not configured in this updater; node %s "
               "left running",
               actor_json_str(a->cluster, "load_balancer", ""), nid);
    if (rc == ACTOR_EINVAL)
      rc = ACTOR_ESTATE;
    if (rc != 0) {
      if (rc != ACTOR_ESTATE)
        LOG_DEBUG("updater", "cluster %s:%s run %s: %s", tenant, cid, run_id, err);
      return rc; /* ACTOR_ESTATE fails the action (node left running); else retried */
    }
    json_object_set_new(a->action, "deregistered", json_true());
    if (drain_s > 0)
      json_object_set_new(a->action, "drain_until_ms",
                          json_integer(actor_time_now_ms() + (int64_t)drain_s * 1000));
    if ((rc = save_actions(a)) != 0)
      return rc;
  }
  /* the load balancer's connection draining: the node keeps running
   * (deregistered) until it is over; the run stays pending meanwhile */
  int64_t drain_until = (int64_t)actor_json_int(a->action, "drain_until_ms", 0);
  if (drain_until > actor_time_now_ms() &&
      !actor_json_bool(a->action, "terminate_published", false)) {
    snprintf(err, errlen, "node %s deregistered from load balancer %s: draining for %lld s", nid,
             actor_json_str(a->cluster, "load_balancer", ""),
             (long long)((drain_until - actor_time_now_ms() + 999) / 1000));
    if (json_object_get(a->action, "waiting") == NULL) {
      LOG_INFO("updater", "cluster %s:%s run %s: %s", tenant, cid, run_id, err);
      json_object_set_new(a->action, "waiting", json_string("draining"));
      if ((rc = save_actions(a)) != 0)
        return rc;
    }
    return UPD_LB_WAIT;
  }
  json_object_del(a->action, "waiting");
  if (iid && !actor_json_bool(a->action, "terminate_published", false)) {
    static const char *const LIVE[] = {"launching", "pending", "running", "stopping",
                                       "stopped", "failed", NULL};
    char now[ACTOR_TIME_MAX];
    actor_time_now_text(now);
    json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "state", "shutting-down", "desired_state",
                          "terminated", "user_transition", now, "updated", now);
    rc = f ? cloud_instance_transition(x->redis, tenant, iid, LIVE, f) : ACTOR_ENOMEM;
    json_decref(f);
    if (rc == ACTOR_ENOTFOUND || rc == ACTOR_ESTATE)
      rc = 0; /* gone, or already on its way: the command below is harmless */
    if (rc != 0)
      return rc;
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "tenant", tenant, "instance_id", iid,
                            "action", "terminate", "request_id", run_id, "who",
                            actor_json_str(a->cluster, "owner", ""));
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    rc = text ? chan_client_publish(x->chan, x->settings->command_queue, text, strlen(text), NULL,
                                    PUBLISH_TIMEOUT_MS)
              : ACTOR_ENOMEM;
    free(text);
    if (rc != 0)
      return rc;
    json_object_set_new(a->action, "terminate_published", json_true());
    if ((rc = save_actions(a)) != 0)
      return rc;
  }
  rc = cluster_item_del(x->redis, tenant, cid, "nodes", nid);
  if (rc != 0)
    return rc;
  LOG_INFO("updater", "cluster %s:%s run %s: node %s removed", tenant, cid, run_id, nid);
  json_object_set_new(a->action, "result", json_pack("{s:s}", "node", nid));
  return 0;
}

/* run_actor: a message to the actor with the cluster's live nodes:
 * {cluster, cluster_name, run, trigger, nodes: [...], message}. The
 * execution id is written into the action before the execution is
 * stored; the message is published again on a resume only when
 * message_published is not set (so at most a crash between the broker's
 * confirm and that write repeats it; the message's `run` lets the actor
 * drop a repeat). */
static int do_run_actor(act_t *a, char *err, size_t errlen) {
  upd_cluster_ctx_t *x = a->x;
  const char *tenant = actor_json_str(a->cluster, "tenant", "");
  const char *cid = actor_json_str(a->cluster, "id", "");
  const char *run_id = actor_json_str(a->run, "id", "");
  const char *ref = actor_json_str(a->action, "actor", "");
  json_t *actor = NULL, *nodes = NULL, *exec = NULL;
  if (x->mongo == NULL) {
    snprintf(err, errlen, "run_actor: this updater has no execution store");
    return ACTOR_ESTATE;
  }
  int rc = upd_actor_lookup(x, tenant, ref, &actor);
  if (rc == ACTOR_ENOTFOUND) {
    snprintf(err, errlen, "run_actor: actor %.128s not found in tenant %s", ref, tenant);
    return ACTOR_ESTATE;
  }
  if (rc != 0)
    return rc;
  char executor[160];
  snprintf(executor, sizeof(executor), "cluster:%s", cid);
  if (json_object_get(a->action, "execution_id") == NULL) {
    char eid[ACTOR_ID_MAX];
    if ((rc = actor_id_new(eid)) != 0)
      goto out;
    json_object_set_new(a->action, "execution_id", json_string(eid));
    if ((rc = save_actions(a)) != 0)
      goto out;
  }
  const char *eid = actor_json_str(a->action, "execution_id", "");
  rc = model_exec_get(x->mongo, actor_json_str(actor, "db_id", ""), eid, &exec);
  if (rc == ACTOR_ENOTFOUND)
    rc = upd_actor_exec_store(x, actor, eid, executor);
  if (rc != 0)
    goto out;
  if (!actor_json_bool(a->action, "message_published", false)) {
    if (live_nodes(x, tenant, cid, &nodes) < 0) {
      rc = ACTOR_ESTORE;
      goto out;
    }
    json_t *list = json_array();
    const char *k;
    json_t *n;
    json_object_foreach(nodes, k, n) {
      if (list && actor_json_bool(n, "live", false))
        json_array_append(list, n);
    }
    json_t *msg = json_object_get(a->action, "message");
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o, s:O}", "cluster", cid, "cluster_name",
                             actor_json_str(a->cluster, "name", ""), "run", run_id, "trigger",
                             actor_json_str(a->run, "trigger", ""), "nodes",
                             list ? list : json_array(), "message", msg ? msg : json_null());
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    rc = text ? upd_actor_publish(x, actor, eid, executor, text) : ACTOR_ENOMEM;
    free(text);
    if (rc != 0)
      goto out;
    json_object_set_new(a->action, "message_published", json_true());
    if ((rc = save_actions(a)) != 0)
      goto out;
  }
  json_object_set_new(a->action, "result",
                      json_pack("{s:s, s:s}", "actor", ref, "execution_id", eid));
out:
  json_decref(exec);
  json_decref(nodes);
  json_decref(actor);
  return rc;
}

static int do_action(act_t *a, char *err, size_t errlen) {
  const char *type = actor_json_str(a->action, "type", "");
  if (strcmp(type, "deploy_node") == 0)
    return do_deploy(a, err, errlen);
  if (strcmp(type, "remove_node") == 0)
    return do_remove(a, err, errlen);
  if (strcmp(type, "notify") == 0) {
    if (upd_notify_hook == NULL) {
      snprintf(err, errlen, "notify is not configured in this updater");
      return ACTOR_ESTATE;
    }
    if (!actor_json_bool(a->action, "sending", false)) {
      json_object_set_new(a->action, "sending", json_true());
      int rc = save_actions(a);
      if (rc != 0)
        return rc;
    }
    int rc = upd_notify_hook(a->x, a->cluster, a->run, a->action, err, errlen);
    if (rc == 0)
      json_object_set_new(a->action, "result", json_pack("{s:b, s:b}", "email",
                                                         json_object_get(a->action, "email") != NULL,
                                                         "webhook",
                                                         json_object_get(a->action, "webhook") != NULL));
    return rc == 0 || rc == ACTOR_ENOMEM ? rc : ACTOR_ESTATE;
  }
  if (strcmp(type, "run_actor") == 0)
    return do_run_actor(a, err, errlen);
  snprintf(err, errlen, "unknown action type '%.64s'", type);
  return ACTOR_EINVAL;
}

/* Writes the outcome on the trigger's state (when it still exists). */
static void trigger_outcome(upd_cluster_ctx_t *x, const json_t *run, const char *outcome,
                            const char *error) {
  const char *tenant = actor_json_str(run, "tenant", "");
  const char *cid = actor_json_str(run, "cluster", "");
  const char *tid = actor_json_str(run, "trigger", "");
  json_t *st = NULL, *trig = NULL;
  if (cluster_item_get(x->redis, tenant, cid, "triggers", tid, &trig) != 0)
    return; /* deleted meanwhile */
  json_decref(trig);
  int rc = cluster_item_get(x->redis, tenant, cid, "tstate", tid, &st);
  if (rc == ACTOR_ENOTFOUND)
    st = json_object(), rc = st ? 0 : ACTOR_ENOMEM;
  if (rc == 0) {
    json_object_set_new(st, "last_run", json_string(actor_json_str(run, "id", "")));
    json_object_set_new(st, "last_outcome", json_string(outcome));
    json_object_set_new(st, "last_error", error ? json_string(error) : json_null());
    rc = cluster_item_put(x->redis, tenant, cid, "tstate", tid, st);
  }
  if (rc != 0)
    LOG_WARN("updater", "cluster %s:%s trigger %s: state not written: %s", tenant, cid, tid,
             actor_strerror(rc));
  json_decref(st);
}

int upd_cluster_run_execute(upd_cluster_ctx_t *x, const char *tenant, const char *run_id) {
  json_t *run = NULL, *cluster = NULL;
  int rc = cluster_run_get(x->redis, tenant, run_id, &run);
  if (rc != 0)
    return rc;
  const char *cid = actor_json_str(run, "cluster", "");
  const char *status = actor_json_str(run, "status", "");
  if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0) {
    rc = cluster_run_done(x->redis, x->settings->tag, tenant, cid, run_id);
    json_decref(run);
    return rc;
  }
  char now[ACTOR_TIME_MAX], err[512] = "";
  int64_t t0 = actor_time_now_ms();
  actor_time_now_text(now);
  rc = cluster_get(x->redis, tenant, cid, &cluster);
  if (rc == ACTOR_ENOTFOUND) {
    snprintf(err, sizeof(err), "cluster %s no longer exists", cid);
  } else if (rc != 0) {
    json_decref(run);
    return rc;
  }
  if (cluster) {
    json_t *f = json_pack("{s:s}", "status", "running");
    if (f && json_is_null(json_object_get(run, "started")))
      json_object_set_new(f, "started", json_string(now));
    rc = f ? cluster_run_update(x->redis, tenant, run_id, f) : ACTOR_ENOMEM;
    json_decref(f);
    if (rc != 0)
      goto out;
  }
  json_t *actions = json_object_get(run, "actions");
  size_t i;
  json_t *action;
  bool failed = cluster == NULL;
  json_array_foreach(actions, i, action) {
    if (failed)
      break;
    const char *st = actor_json_str(action, "status", "");
    if (strcmp(st, "done") == 0)
      continue;
    if (strcmp(st, "failed") == 0) {
      failed = true;
      break;
    }
    act_t a = {.x = x, .cluster = cluster, .run = run, .action = action, .index = i};
    char started[ACTOR_TIME_MAX];
    actor_time_now_text(started);
    if (json_object_get(action, "started") == NULL)
      json_object_set_new(action, "started", json_string(started));
    int64_t a0 = actor_time_mono_ms();
    err[0] = '\0';
    rc = do_action(&a, err, sizeof(err));
    if (rc == UPD_LB_WAIT) {
      /* saved already: the node is not up for its load balancer yet */
      LOG_DEBUG("updater", "cluster %s:%s run %s: action %zu waits: %s", tenant, cid, run_id, i,
                err);
      rc = 0; /* not a fault: the run stays pending and is resumed next tick */
      goto out;
    }
    if (rc != 0 && rc != ACTOR_ESTATE && rc != ACTOR_EINVAL) {
      LOG_WARN("updater", "cluster %s:%s run %s: action %zu (%s) not done: %s; retried next tick",
               tenant, cid, run_id, i, actor_json_str(action, "type", ""), actor_strerror(rc));
      goto out; /* the run stays pending */
    }
    actor_time_now_text(started);
    json_object_set_new(action, "finished", json_string(started));
    json_object_set_new(action, "duration_ms", json_integer(actor_time_mono_ms() - a0));
    json_object_set_new(action, "status", json_string(rc == 0 ? "done" : "failed"));
    if (rc != 0) {
      json_object_set_new(action, "error", json_string(err));
      failed = true;
      LOG_WARN("updater", "cluster %s:%s run %s: action %zu (%s) failed: %s", tenant, cid,
               run_id, i, actor_json_str(action, "type", ""), err);
    }
    if ((rc = save_actions(&a)) != 0)
      goto out;
  }
  actor_time_now_text(now);
  const char *outcome = failed ? "failed" : "succeeded";
  json_t *f = json_pack("{s:s, s:s, s:I}", "status", outcome, "finished", now, "duration_ms",
                        (json_int_t)(actor_time_now_ms() - t0));
  if (f && failed)
    json_object_set_new(f, "error", json_string(err));
  rc = f ? cluster_run_update(x->redis, tenant, run_id, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc == 0) {
    trigger_outcome(x, run, outcome, failed ? err : NULL);
    rc = cluster_run_done(x->redis, x->settings->tag, tenant, cid, run_id);
  }
  LOG_INFO("updater", "cluster %s:%s run %s (trigger %s): %s%s%s", tenant, cid, run_id,
           actor_json_str(run, "trigger", ""), outcome, failed ? ": " : "", failed ? err : "");
out:
  json_decref(cluster);
  json_decref(run);
  return rc;
}

/* After a crash between recording a run and writing its trigger's state:
 * the state names the run (so the trigger cools down from it). */
static void run_repair_state(upd_cluster_ctx_t *x, const char *tenant, const char *run_id) {
  json_t *run = NULL, *st = NULL;
  if (cluster_run_get(x->redis, tenant, run_id, &run) != 0)
    return;
  const char *cid = actor_json_str(run, "cluster", "");
  const char *tid = actor_json_str(run, "trigger", "");
  int64_t created = (int64_t)actor_json_int(run, "created_ms", 0);
  int rc = cluster_item_get(x->redis, tenant, cid, "tstate", tid, &st);
  if (!actor_json_bool(run, "manual", false) && (rc == 0 || rc == ACTOR_ENOTFOUND) &&
      actor_json_int(st, "last_fired_ms", 0) < created) {
    if (st == NULL)
      st = json_object();
    json_t *trig = NULL;
    if (st && cluster_item_get(x->redis, tenant, cid, "triggers", tid, &trig) == 0) {
      char t[ACTOR_TIME_MAX];
      actor_time_format(created, t);
      json_object_set_new(st, "last_fired", json_string(t));
      json_object_set_new(st, "last_fired_ms", json_integer(created));
      json_t *cd = json_object_get(trig, "cooldown");
      int64_t until = created + (int64_t)((json_is_number(cd) ? json_number_value(cd) : 0) *
                                          60000.0);
      actor_time_format(until, t);
      json_object_set_new(st, "cooling_down_until", json_string(t));
      json_object_set_new(st, "cooling_down_until_ms", json_integer(until));
      json_object_set_new(st, "last_run", json_string(run_id));
      if (cluster_item_put(x->redis, tenant, cid, "tstate", tid, st) == 0)
        LOG_INFO("updater", "cluster %s:%s trigger %s: state repaired from run %s", tenant, cid,
                 tid, run_id);
      if (strcmp(upd_cluster_direction(trig), "out") == 0) {
        json_t *f = json_pack("{s:s, s:I}", "last_scale_out", t, "last_scale_out_ms",
                              (json_int_t)created);
        actor_time_format(created, t);
        if (f)
          json_object_set_new(f, "last_scale_out", json_string(t));
        if (!f || cluster_update(x->redis, tenant, cid, f) != 0)
          LOG_WARN("updater", "cluster %s:%s: last_scale_out not repaired", tenant, cid);
        json_decref(f);
      }
    }
    json_decref(trig);
  }
  json_decref(st);
  json_decref(run);
}

void upd_cluster_runs_resume(upd_cluster_ctx_t *x) {
  json_t *pending = NULL;
  int rc = cluster_runs_pending(x->redis, x->settings->tag, &pending);
  if (rc != 0) {
    LOG_WARN("updater", "pending cluster runs not read: %s", actor_strerror(rc));
    return;
  }
  size_t i;
  json_t *m;
  json_array_foreach(pending, i, m) {
    /* "<T>:<C>:<R>": tenants hold no ':', ids neither */
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", json_string_value(m) ? json_string_value(m) : "");
    char *c1 = strchr(buf, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
      continue;
    *c1 = '\0';
    *c2 = '\0';
    const char *tenant = buf, *cid = c1 + 1, *rid = c2 + 1;
    json_t *run = NULL;
    rc = cluster_run_get(x->redis, tenant, rid, &run);
    json_decref(run);
    if (rc == ACTOR_ENOTFOUND) { /* removed meanwhile */
      if (cluster_run_done(x->redis, x->settings->tag, tenant, cid, rid) != 0)
        LOG_WARN("updater", "pending run %s not dropped", rid);
      continue;
    }
    if (rc != 0)
      continue;
    run_repair_state(x, tenant, rid);
    rc = upd_cluster_run_execute(x, tenant, rid);
    if (rc != 0)
      LOG_WARN("updater", "cluster %s:%s run %s: %s; retried next tick", tenant, cid, rid,
               actor_strerror(rc));
  }
  json_decref(pending);
}
