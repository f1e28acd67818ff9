/* One instance command {tenant, instance_id, action, request_id}
 * (docs/cloud.md "Channels"), on the pool: start -> StartInstances, stop ->
 * StopInstances, restart -> RebootInstances, terminate -> DeleteStack when
 * the record has a stack (its id, else its name), else TerminateInstances.
 * Then the instance is described once and its observation recorded:
 * `state` follows it when it is the action's goal or on the way there
 * (stopping for stop), so a real AWS's in-between state shows and the
 * updater follows the rest; a moto server answers with the goal at once. A terminate of something AWS no
 * longer knows is done: terminated. A failure records backend_status and
 * error (the state stays) and sends INSTANCE_ERROR; every action is
 * audited. Throttling and transient faults requeue the command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "channels/proto/event.h"
#include "launcher.h"

typedef struct {
  const char *action;
  const char *op;      /* the EC2 call */
  const char *goal;    /* desired state */
  const char *between; /* on the way there, or NULL */
} action_def_t;

static const action_def_t ACTIONS[] = {
    {"start", "StartInstances", "running", "pending"},
    {"stop", "StopInstances", "stopped", "stopping"},
    {"restart", "RebootInstances", "running", "pending"},
    {"terminate", "TerminateInstances", "terminated", "shutting-down"},
};

static const action_def_t *find_action(const char *name) {
  for (size_t i = 0; i < sizeof(ACTIONS) / sizeof(ACTIONS[0]); i++)
    if (strcmp(ACTIONS[i].action, name) == 0)
      return &ACTIONS[i];
  return NULL;
}

/* Records what the cloud shows after the action (inst NULL: it is gone). */
static int record_outcome(launcher_t *l, json_t *rec, const action_def_t *a, const json_t *inst,
                          char **event) {
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  const char *observed = inst ? actor_json_str(inst, "state", "") : "terminated";
  json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "observed_state", observed, "observed", now,
                        "enacted", now, "desired_state", a->goal);
  if (f == NULL)
    return ACTOR_ENOMEM;
  if (inst)
    launcher_copy_observed(f, inst);
  if (strcmp(observed, a->goal) == 0 || (a->between && strcmp(observed, a->between) == 0))
    json_object_set_new(f, "state", json_string(observed));
  /* An event for a change only: a repeated stop or terminate tells nothing. */
  bool was_stopped = strcmp(actor_json_str(rec, "observed_state", ""), "stopped") == 0;
  bool was_terminated = strcmp(actor_json_str(rec, "observed_state", ""), "terminated") == 0;
  /* Guarded by the state the job read (or the action's own): a newer user
   * action (the api moved the state, e.g. terminate -> shutting-down)
   * keeps its desired_state and state against this late outcome. */
  const char *const from[] = {actor_json_str(rec, "state", ""), a->goal,
                              a->between ? a->between : a->goal, NULL};
  int rc = cloud_instance_transition(l->redis, actor_json_str(rec, "tenant", ""),
                                     actor_json_str(rec, "id", ""), from, f);
  if (rc == ACTOR_ESTATE) {
    LOG_INFO("launcher", "instance %s: a newer action moved it on; %s outcome not recorded",
             actor_json_str(rec, "id", ""), a->action);
    rc = 0;
  } else if (rc == 0) {
    json_object_update(rec, f);
    /* a new address (start) or the end (terminate): the DNS entry follows */
    ACTOR_IGNORE(cloud_dns_sync(l->dns, l->redis, rec));
    const char *state = actor_json_str(rec, "state", "");
    if (strcmp(state, "stopped") == 0 && strcmp(a->goal, "stopped") == 0 && !was_stopped)
      *event = launcher_event_text(CHAN_EVENT_INSTANCE_STOPPED, rec);
    else if (strcmp(state, "terminated") == 0 && !was_terminated)
      *event = launcher_event_text(CHAN_EVENT_INSTANCE_TERMINATED, rec);
  }
  json_decref(f);
  return rc;
}

static void action_work(uv_work_t *w) {
  launcher_job_t *j = w->data;
  launcher_t *l = j->l;
  const launcher_cmd_t *c = &j->cmd;
  const action_def_t *a = find_action(c->action); /* known: launcher_cmd_parse checked */
  json_t *rec = NULL, *list = NULL, *ids = NULL;
  j->outcome = LAUNCHER_ACK;
  int rc = cloud_instance_get(l->redis, c->tenant, c->instance_id, &rec);
  if (rc == ACTOR_ENOTFOUND) {
    LOG_INFO("launcher", "instance %s:%s is gone: dropping its %s", c->tenant, c->instance_id,
             c->action);
    goto cleanup;
  }
  if (rc != 0 || a == NULL)
    goto fault;
  const char *ec2 = json_string_value(json_object_get(rec, "ec2_instance_id"));
  /* Without a stack id, the name the api gave the stack: a CreateStack
   * whose answer was lost (a timeout) may still have made it, and the
   * updater may have recorded its instance first; DeleteStack of a name
   * that has no stack succeeds. Adopted instances have neither. */
  const char *stack = actor_json_str(rec, "stack_id", "");
  if (*stack == '\0')
    stack = actor_json_str(rec, "stack_name", "");
  bool terminate = strcmp(a->action, "terminate") == 0;
  const char *op = a->op;
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  if (terminate && *stack) {
    op = "DeleteStack";
    rc = aws_cfn_delete_stack(l->aws, stack, NULL, &res);
  } else if (ec2) {
    rc = aws_ec2_instance_action(l->aws, a->op, ec2, &res);
  } else if (terminate) { /* nothing in the cloud: terminated as it is */
    rc = record_outcome(l, rec, a, NULL, &j->event);
    if (rc != 0)
      goto fault;
    launcher_audit(l, rec, c->who, c->action, NULL, "nothing in the cloud", c->request_id);
    goto cleanup;
  } else {
    char why[200];
    snprintf(why, sizeof(why), "instance %s has no EC2 instance yet", c->instance_id);
    j->event = launcher_fail(l, rec, NULL, c->who, c->action, a->op, "NoInstance", why,
                             c->request_id);
    goto cleanup;
  }
  if (rc != 0 && (res.cls == AWS_THROTTLE || res.cls == AWS_TRANSIENT)) {
    LOG_WARN("launcher", "instance %s:%s: %s %s (%s: %s); will retry", c->tenant,
             c->instance_id, op, aws_class_name(res.cls), res.code, res.message);
    j->outcome = LAUNCHER_RETRY;
    goto cleanup;
  }
  if (rc != 0 && !(terminate && res.cls == AWS_NOTFOUND)) {
    j->event = launcher_fail(l, rec, NULL, c->who, c->action, op, res.code,
                             res.message[0] ? res.message : res.code,
                             res.request_id[0] ? res.request_id : c->request_id);
    goto cleanup;
  }
  bool gone = rc != 0; /* terminate of what AWS no longer knows */
  char aws_req[128];
  snprintf(aws_req, sizeof(aws_req), "%s", res.request_id);
  const json_t *inst = NULL;
  if (!gone && ec2) {
    ids = json_pack("[s]", ec2);
    memset(&res, 0, sizeof(res));
    rc = ids ? aws_ec2_describe_instances(l->aws, NULL, NULL, ids, &list, &res) : ACTOR_ENOMEM;
    inst = rc == 0 ? json_array_get(list, 0) : NULL;
    if (inst == NULL && !(terminate && (rc == 0 || res.cls == AWS_NOTFOUND))) {
      /* enacted, but not seen: the updater observes it later */
      LOG_INFO("launcher", "instance %s:%s: %s done, not described (%s)", c->tenant,
               c->instance_id, op, res.code);
      /* nothing to write: the api set desired_state with the action, and a
       * newer action may have set it since */
      launcher_audit(l, rec, c->who, c->action, NULL, aws_req, c->request_id);
      goto cleanup;
    }
  }
  rc = record_outcome(l, rec, a, inst, &j->event);
  if (rc == ACTOR_ENOTFOUND)
    goto cleanup;
  if (rc != 0)
    goto fault;
  LOG_INFO("launcher", "instance %s:%s: %s done, %s", c->tenant, c->instance_id, op,
           actor_json_str(rec, "observed_state", "?"));
  launcher_audit(l, rec, c->who, c->action, NULL, aws_req, c->request_id);
  goto cleanup;

fault:
  LOG_WARN("launcher", "instance %s:%s: %s meets a platform fault (%s); will retry", c->tenant,
           c->instance_id, c->action, actor_strerror(rc));
  j->outcome = LAUNCHER_RETRY;
cleanup:
  json_decref(ids);
  json_decref(list);
  json_decref(rec);
}

void launcher_on_command(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  (void)c;
  launcher_job_run(ud, msg, true, action_work);
}
