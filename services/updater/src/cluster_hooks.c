/* The notify and load balancer actions of the clusters' runs
 * (updater.h "cluster_hooks.c"; docs/clusters.md "Load balancer").
 * main.c sets upd_notify_hook and upd_lb_hook to these
 * once [smtp] has been read.
 *
 *   notify  notify_run (actor/notify.h, docs/notify.md) with the context
 *           {cluster, trigger, run, counters}: the counters are the
 *           values that fired the run (empty for a manual fire).
 *   lb      the cluster's `load_balancer` must exist (an ELB classic the
 *           operator made with its listeners, zones and health check);
 *           a deployed node's EC2 instance is registered once its record
 *           is `running` with an ec2_instance_id (until then the action
 *           waits: UPD_LB_WAIT), and deregistered before it is
 *           terminated, which waits out the load balancer's connection
 *           draining timeout (DescribeLoadBalancerAttributes). Both
 *           calls are idempotent on AWS's side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "updater.h"

/* The context of a run's notification: what fired and why. New reference
 * or NULL. */
static json_t *notify_context(const json_t *cluster, const json_t *run) {
  json_t *counters = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(json_object_get(run, "inputs"), "counters"), i, v) {
    /* without the samples: the value, its threshold and comparison */
    json_t *c = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "counter",
                          json_object_get(v, "counter"), "name", json_object_get(v, "name"),
                          "value", json_object_get(v, "value"), "threshold",
                          json_object_get(v, "threshold"), "comparison",
                          json_object_get(v, "comparison"));
    if (c == NULL || counters == NULL || json_array_append_new(counters, c) != 0) {
      json_decref(counters);
      return NULL;
    }
  }
  if (counters == NULL)
    return NULL;
  return json_pack(
      "{s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:b, s:s, s:s}, s:o}", "cluster", "id",
      actor_json_str(cluster, "id", ""), "name", actor_json_str(cluster, "name", ""), "tenant",
      actor_json_str(cluster, "tenant", ""), "trigger", "id", actor_json_str(run, "trigger", ""),
      "name", actor_json_str(run, "trigger_name", ""), "run", "id", actor_json_str(run, "id", ""),
      "manual", actor_json_bool(run, "manual", false), "created",
      actor_json_str(run, "created", ""), "reason", actor_json_str(run, "reason", ""),
      "counters", counters);
}

int upd_cluster_notify(upd_cluster_ctx_t *x, const json_t *cluster, const json_t *run,
                       const json_t *action, char *err, size_t errlen) {
  if (x->notify == NULL) {
    snprintf(err, errlen, "notify is not configured in this updater");
    return ACTOR_ESTATE;
  }
  json_t *ctx = notify_context(cluster, run);
  if (ctx == NULL)
    return ACTOR_ENOMEM;
  char *e = NULL;
  int rc = notify_run(x->notify, action, ctx, &e);
  json_decref(ctx);
  if (rc != 0) {
    snprintf(err, errlen, "%s", e ? e : actor_strerror(rc));
    free(e);
    return rc == ACTOR_ENOMEM ? rc : ACTOR_ESTATE;
  }
  free(e);
  LOG_INFO("updater", "cluster %s:%s run %s: notified", actor_json_str(cluster, "tenant", ""),
           actor_json_str(cluster, "id", ""), actor_json_str(run, "id", ""));
  return 0;
}

/* An AWS failure: retried at the next tick (throttled, transient, no
 * answer) or the action fails naming AWS's words. */
static int aws_failure(int rc, const aws_result_t *res, const char *what, const char *lb,
                       char *err, size_t errlen) {
  if (rc == ACTOR_ENOMEM)
    return rc;
  snprintf(err, errlen, "load balancer %s: %s: %s%s%s", lb, what,
           res->code[0] ? res->code : actor_strerror(rc), res->message[0] ? ": " : "",
           res->message);
  if (res->cls == AWS_THROTTLE || res->cls == AWS_TRANSIENT || res->cls == AWS_CAPACITY)
    return UPD_LB_WAIT;
  return ACTOR_ESTATE;
}

int upd_cluster_lb(upd_cluster_ctx_t *x, const json_t *cluster, const json_t *node,
                   bool register_it, int *drain_s, char *err, size_t errlen) {
  if (drain_s)
    *drain_s = 0;
  const char *lb = actor_json_str(cluster, "load_balancer", "");
  const char *tenant = actor_json_str(cluster, "tenant", "");
  const char *nid = actor_json_str(node, "id", "");
  const char *iid = actor_json_str(node, "instance_id", NULL);
  if (x->aws == NULL) {
    snprintf(err, errlen, "load balancer %s: this updater has no AWS client", lb);
    return ACTOR_ESTATE;
  }
  if (iid == NULL) {
    /* an adopted host: the platform never registered it */
    if (register_it) {
      snprintf(err, errlen, "load balancer %s: node %s is not a managed instance", lb, nid);
      return ACTOR_ESTATE;
    }
    return 0;
  }
  json_t *inst = NULL;
  int rc = cloud_instance_get(x->redis, tenant, iid, &inst);
  if (rc == ACTOR_ENOTFOUND && !register_it)
    return 0; /* no record: never launched by us, nothing registered */
  if (rc == ACTOR_ENOTFOUND) {
    snprintf(err, errlen, "load balancer %s: instance %s has no record", lb, iid);
    return ACTOR_ESTATE;
  }
  if (rc != 0)
    return rc;
  char state[32], ec2[64]; /* copies: inst goes now */
  snprintf(state, sizeof(state), "%s", actor_json_str(inst, "state", ""));
  snprintf(ec2, sizeof(ec2), "%s", actor_json_str(inst, "ec2_instance_id", ""));
  json_decref(inst);
  if (register_it && (cloud_state_terminal(state) || strcmp(state, "shutting-down") == 0 ||
                      strcmp(state, "stopping") == 0 || strcmp(state, "stopped") == 0)) {
    snprintf(err, errlen, "load balancer %s: node %s is %s: not registered", lb, iid, state);
    return ACTOR_ESTATE;
  }
  if (register_it && (ec2[0] == '\0' || strcmp(state, "running") != 0)) {
    snprintf(err, errlen, "load balancer %s: waiting for node %s to run (now %s)", lb, iid,
             state[0] ? state : "unknown");
    return UPD_LB_WAIT;
  }
  if (ec2[0] == '\0')
    return 0; /* never had an EC2 instance: nothing to deregister */
  json_t *ids = json_pack("[s]", ec2);
  if (ids == NULL)
    return ACTOR_ENOMEM;
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  json_t *now = NULL;
  rc = register_it ? aws_elb_register(x->aws, lb, ids, &now, &res)
                   : aws_elb_deregister(x->aws, lb, ids, &now, &res);
  json_decref(ids);
  json_decref(now);
  if (rc != 0 && !register_it && res.cls == AWS_NOTFOUND) {
    LOG_WARN("updater", "load balancer %s is gone: node %s not deregistered", lb, iid);
    return 0; /* nothing left to drain it from */
  }
  if (rc != 0)
    return aws_failure(rc, &res, register_it ? "RegisterInstancesWithLoadBalancer"
                                             : "DeregisterInstancesFromLoadBalancer",
                       lb, err, errlen);
  LOG_INFO("updater", "load balancer %s: node %s (%s) %s", lb, iid, ec2,
           register_it ? "registered" : "deregistered");
  if (!register_it && drain_s) {
    /* its connection draining: remove_node waits that long before the
     * terminate, so requests in flight on the node can finish */
    memset(&res, 0, sizeof(res));
    rc = aws_elb_draining(x->aws, lb, drain_s, &res);
    if (rc != 0 && res.cls == AWS_NOTFOUND)
      return 0; /* gone meanwhile: nothing to drain */
    if (rc != 0)
      return aws_failure(rc, &res, "DescribeLoadBalancerAttributes", lb, err, errlen);
  }
  return 0;
}
