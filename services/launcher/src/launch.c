/* One launch command {tenant, instance_id, request_id} (docs/cloud.md
 * "Channels"), on the pool: the instance record, its software
 * configuration and launch group, the user data rendered (the api's
 * `user_data_rendered` when it stored one, else here from the platform's
 * tokens, the tenant's params and [cloud_tokens]), then CreateStack with
 * MLiy's parameters (only those the template declares), the stack's tags
 * and ClientRequestToken = the instance id, and the stack recorded.
 *
 * A record removed or moved on (terminated by its user) while CreateStack
 * ran gets its stack deleted at once: nobody wants it, and it would
 * otherwise be found and adopted by the updater.
 *
 * Idempotent: a record that already has a stack_id only resumes polling;
 * a redelivery after CreateStack but before the record was written sends
 * the same token and name again, and aws.h answers with the existing
 * stack. Throttling and transient faults (already retried inside aws.h)
 * requeue the command; capacity, auth and permanent errors fail the
 * instance with AWS's words, and the command is done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "launcher.h"

static const char *const FROM_LAUNCHING[] = {"launching", NULL};

static bool store_fault(int rc) {
  return rc != 0 && rc != ACTOR_ENOTFOUND;
}

/* The user data to send: the api's rendering, or ours (ACTOR_ENOTFOUND
 * with the token's name in missing). */
static int user_data(launcher_t *l, const json_t *rec, const json_t *config, char **out,
                     char *missing, size_t mlen) {
  const char *done = json_string_value(json_object_get(rec, "user_data_rendered"));
  if (done) {
    *out = strdup(done);
    return *out ? 0 : ACTOR_ENOMEM;
  }
  json_t *params = NULL;
  int rc = cloud_params_get(l->redis, actor_json_str(rec, "tenant", ""), &params);
  if (rc != 0)
    return rc;
  json_t *platform = launcher_platform_tokens(rec, l->cs.progress_url);
  const json_t *sources[] = {platform, params, l->config_tokens, NULL};
  rc = platform ? cloud_render_tokens(actor_json_str(config, "user_data", ""), sources, out,
                                      missing, mlen)
                : ACTOR_ENOMEM;
  json_decref(platform);
  json_decref(params);
  return rc;
}

/* A record that left `launching` without a stack id: a CreateStack whose
 * answers were lost (timeouts) made the stack, and the updater recorded
 * its instance first. Its stack, found by the name the api gave it, is
 * recorded (best effort: terminate deletes it by name anyway). */
static void record_lost_stack(launcher_t *l, const launcher_cmd_t *c, const json_t *rec) {
  const char *name = actor_json_str(rec, "stack_name", "");
  if (*name == '\0')
    return;
  json_t *st = NULL, *fields = NULL;
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  if (aws_cfn_describe_stack(l->aws, name, &st, &res) != 0) {
    LOG_INFO("launcher", "instance %s:%s: no stack %s recorded (%s %s)", c->tenant,
             c->instance_id, name, aws_class_name(res.cls), res.code);
    return;
  }
  const char *id = actor_json_str(st, "stack_id", "");
  fields = *id ? json_pack("{s:s, s:s}", "stack_id", id, "stack_status",
                           actor_json_str(st, "status", ""))
               : NULL;
  int rc = fields ? cloud_instance_update(l->redis, c->tenant, c->instance_id, fields)
                  : ACTOR_ENOMEM;
  if (rc == 0)
    LOG_INFO("launcher", "instance %s:%s: its stack %s recorded", c->tenant, c->instance_id, id);
  else
    LOG_WARN("launcher", "instance %s:%s: could not record its stack %s: %s", c->tenant,
             c->instance_id, name, actor_strerror(rc));
  json_decref(fields);
  json_decref(st);
}

static void launch_work(uv_work_t *w) {
  launcher_job_t *j = w->data;
  launcher_t *l = j->l;
  const launcher_cmd_t *c = &j->cmd;
  json_t *rec = NULL, *config = NULL, *group = NULL, *declared = NULL, *params = NULL,
         *tags = NULL, *fields = NULL;
  char *ud = NULL, *ud64 = NULL, *stack_id = NULL;
  char why[700];
  const char *code = "LaunchError";
  why[0] = '\0';
  j->outcome = LAUNCHER_ACK;
  int rc;

  /* One launch of an instance at a time, across processes: a second
   * delivery waits for the first to store its stack id (then it only
   * resumes polling). */
  char lease[300], owner[96];
  bool mine = false;
  snprintf(owner, sizeof(owner), "%ld-%p-%lld", (long)getpid(), (void *)j,
           (long long)actor_time_now_ms());
  if (snprintf(lease, sizeof(lease), "abaco:cloud:launch:%s:%s", c->tenant, c->instance_id) >=
      (int)sizeof(lease)) {
    rc = ACTOR_ETOOBIG;
    goto fault;
  }
  rc = store_lease_take(l->redis, lease, owner, LAUNCHER_LAUNCH_LEASE_MS, &mine);
  if (rc != 0)
    goto fault;
  if (!mine) {
    LOG_INFO("launcher", "instance %s:%s is being launched by another command: later",
             c->tenant, c->instance_id);
    j->outcome = LAUNCHER_RETRY;
    goto cleanup;
  }
  rc = cloud_instance_get(l->redis, c->tenant, c->instance_id, &rec);
  if (rc == ACTOR_ENOTFOUND) {
    LOG_INFO("launcher", "instance %s:%s is gone: dropping its launch", c->tenant,
             c->instance_id);
    goto cleanup;
  }
  if (rc != 0)
    goto fault;
  const char *stack = actor_json_str(rec, "stack_id", "");
  const char *state = actor_json_str(rec, "state", "");
  if (*stack) {
    j->poll = strcmp(state, "launching") == 0 || strcmp(state, "pending") == 0;
    snprintf(j->stack, sizeof(j->stack), "%s", stack);
    LOG_INFO("launcher", "instance %s:%s has its stack already: %s", c->tenant, c->instance_id,
             j->poll ? "resuming its polling" : "nothing to do");
    goto cleanup;
  }
  if (strcmp(state, "launching") != 0) {
    LOG_INFO("launcher", "instance %s:%s is %s, not launching: dropping its launch", c->tenant,
             c->instance_id, state);
    if (!cloud_state_terminal(state))
      record_lost_stack(l, c, rec);
    goto cleanup;
  }

  const char *cname = actor_json_str(rec, "config", "");
  rc = cloud_swconfig_get(l->redis, c->tenant, cname, &config);
  if (rc == ACTOR_ENOTFOUND) {
    snprintf(why, sizeof(why), "unknown configuration: %s", cname);
    goto failed;
  }
  if (rc != 0)
    goto fault;
  const char *gname = actor_json_str(rec, "group", "");
  rc = *gname ? cloud_group_get(l->redis, c->tenant, gname, &group)
              : cloud_group_for(l->redis, c->tenant, actor_json_str(rec, "owner", ""), NULL,
                                &group);
  if (rc == ACTOR_ENOTFOUND && *gname) {
    snprintf(why, sizeof(why), "unknown launch group: %s", gname);
    goto failed;
  }
  if (store_fault(rc))
    goto fault;

  char missing[128] = "";
  rc = user_data(l, rec, config, &ud, missing, sizeof(missing));
  if (rc == ACTOR_ENOTFOUND) {
    snprintf(why, sizeof(why), "no value for token {{{%s}}}", missing);
    goto failed;
  }
  if (rc == ACTOR_ETOOBIG) {
    snprintf(why, sizeof(why), "the rendered user data is longer than %d bytes",
             CLOUD_USER_DATA_MAX);
    goto failed;
  }
  if (rc != 0)
    goto fault;
  ud64 = launcher_b64(ud, strlen(ud));
  if (ud64 && strlen(ud64) > CLOUD_USER_DATA_PARAM_MAX) {
    snprintf(why, sizeof(why), "the rendered user data is %zu bytes of base64; the UserData "
             "parameter holds at most %d", strlen(ud64), CLOUD_USER_DATA_PARAM_MAX);
    goto failed;
  }
  const char *tmpl = actor_json_str(config, "template", "");
  if (launcher_template_params(tmpl, &declared) != 0) {
    snprintf(why, sizeof(why), "template of configuration %s: Parameters is not an object",
             cname);
    goto failed;
  }
  params = launcher_stack_params(config, group, rec, ud64 ? ud64 : "", declared);
  tags = launcher_stack_tags(l->cs.tag, rec);
  char name[160];
  if (ud64 == NULL || params == NULL || tags == NULL) {
    rc = ACTOR_ENOMEM;
    goto fault;
  }
  if (cloud_stack_name(name, sizeof(name), l->cs.tag, c->tenant, c->instance_id) != 0) {
    snprintf(why, sizeof(why), "no stack name for tag %s, tenant %s and id %s", l->cs.tag,
             c->tenant, c->instance_id);
    goto failed;
  }

  aws_stack_req_t req = {.stack_name = name,
                         .template_body = tmpl,
                         .parameters = params,
                         .tags = tags,
                         .client_request_token = c->instance_id};
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  rc = aws_cfn_create_stack(l->aws, &req, &stack_id, &res);
  if (rc != 0) {
    if (res.cls == AWS_THROTTLE || res.cls == AWS_TRANSIENT) {
      LOG_WARN("launcher", "instance %s:%s: CreateStack %s (%s: %s); will retry", c->tenant,
               c->instance_id, aws_class_name(res.cls), res.code, res.message);
      j->outcome = LAUNCHER_RETRY;
      goto cleanup;
    }
    j->event = launcher_fail(l, rec, FROM_LAUNCHING, c->who, "launch", "CreateStack", res.code,
                             res.message[0] ? res.message : res.code,
                             res.request_id[0] ? res.request_id : c->request_id);
    goto cleanup;
  }
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  fields = json_pack("{s:s, s:s, s:s, s:s}", "stack_name", name, "stack_id", stack_id,
                     "stack_status", "CREATE_IN_PROGRESS", "enacted", now);
  static const char *const FROM[] = {"launching", NULL};
  rc = fields ? cloud_instance_transition(l->redis, c->tenant, c->instance_id, FROM, fields)
              : ACTOR_ENOMEM;
  if (rc == ACTOR_ENOTFOUND || rc == ACTOR_ESTATE) {
    /* Deleted or terminated while the stack was made: nobody wants it. */
    LOG_WARN("launcher", "instance %s:%s was %s while its stack %s was made: deleting the stack",
             c->tenant, c->instance_id, rc == ACTOR_ENOTFOUND ? "removed" : "moved on", stack_id);
    if (rc == ACTOR_ESTATE) /* best effort: the record only remembers the stack */
      ACTOR_IGNORE(cloud_instance_update(l->redis, c->tenant, c->instance_id, fields));
    memset(&res, 0, sizeof(res));
    if (aws_cfn_delete_stack(l->aws, stack_id, NULL, &res) != 0)
      LOG_ERROR("launcher", "instance %s:%s: DeleteStack of %s: %s %s", c->tenant,
                c->instance_id, stack_id, res.code, res.message);
    goto cleanup;
  }
  if (rc != 0)
    goto fault; /* the redelivery gets the same stack back (ClientRequestToken) */
  json_object_update(rec, fields);
  LOG_INFO("launcher", "instance %s:%s: stack %s created", c->tenant, c->instance_id, stack_id);
  launcher_audit(l, rec, c->who, "launch", NULL, stack_id, c->request_id);
  j->poll = true;
  snprintf(j->stack, sizeof(j->stack), "%s", stack_id);
  goto cleanup;

failed:
  j->event = launcher_fail(l, rec, FROM_LAUNCHING, c->who, "launch", "launch", code, why,
                           c->request_id);
  goto cleanup;
fault:
  LOG_WARN("launcher", "instance %s:%s: launch meets a platform fault (%s); will retry",
           c->tenant, c->instance_id, actor_strerror(rc));
  j->outcome = LAUNCHER_RETRY;
cleanup:
  /* An unreleased lease expires by itself. */
  if (mine && store_lease_end(l->redis, lease, owner, 0) != 0)
    LOG_DEBUG("launcher", "instance %s:%s: launch lease not released", c->tenant,
              c->instance_id);
  free(stack_id);
  free(ud64);
  free(ud);
  json_decref(fields);
  json_decref(tags);
  json_decref(params);
  json_decref(declared);
  json_decref(group);
  json_decref(config);
  json_decref(rec);
}

void launcher_on_launch(chan_conn_t *c, const chan_msg_t *msg, void *ud) {
  (void)c;
  launcher_job_run(ud, msg, false, launch_work);
}
