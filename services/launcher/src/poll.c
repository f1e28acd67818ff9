/* Stack polling: one poller per instance whose stack is being created, a
 * loop timer between polls (poll_initial_ms + poll_step_ms * i, capped at
 * poll_max_ms; at most poll_max_count polls) and each poll on the pool:
 *
 *   1. DescribeStackResources until the record has ec2_instance_id and
 *      volume_id: each is recorded the moment the stack has it (the ec2
 *      index with it, so progress reports by EC2 id work at once);
 *   2. DescribeStacks: CREATE_COMPLETE -> DescribeInstances of the
 *      instance, its observation recorded; `running` ends the poller with
 *      INSTANCE_READY; *_FAILED / ROLLBACK_* / DELETE_* -> the first real
 *      CREATE_FAILED reason of DescribeStackEvents, the instance failed,
 *      INSTANCE_ERROR.
 *
 * A record that left launching/pending (a user terminated it, the updater
 * saw it first) ends its poller, after its resource ids are recorded. A poll that meets a fault
 * (store, AWS) only counts as a poll. Pollers are resumed at start for
 * every `launching` record of our tag with a stack_id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "channels/proto/event.h"
#include "launcher.h"

struct launcher_poll_s {
  launcher_t *l;
  uv_timer_t timer;
  uv_work_t work;
  launcher_poll_t *prev, *next;
  char tenant[128], id[64], stack[256];
  long count;    /* polls made */
  bool working;  /* a poll is on the pool */
  bool finished; /* nothing more to poll */
  bool closing;
  char *event;
};

static const char *const FROM_CREATING[] = {"launching", "pending", NULL};

bool launcher_idle(const launcher_t *l) {
  return l->inflight == 0 && l->polls == NULL;
}

static void on_closed(uv_handle_t *h) {
  launcher_poll_t *p = h->data;
  launcher_t *l = p->l;
  if (p->prev)
    p->prev->next = p->next;
  else
    l->polls = p->next;
  if (p->next)
    p->next->prev = p->prev;
  free(p->event);
  free(p);
  launcher_check_idle(l);
}

static void poll_close(launcher_poll_t *p) {
  if (p->closing)
    return;
  p->closing = true;
  uv_close((uv_handle_t *)&p->timer, on_closed);
}

/* Records fields on the poller's instance, and in rec. */
static int update(launcher_t *l, json_t *rec, json_t *fields) {
  int rc = cloud_instance_update(l->redis, actor_json_str(rec, "tenant", ""),
                                 actor_json_str(rec, "id", ""), fields);
  if (rc == 0)
    json_object_update(rec, fields);
  return rc;
}

/* Step 1: the instance and volume ids, as soon as the stack has them. */
static void resources(launcher_poll_t *p, json_t *rec) {
  launcher_t *l = p->l;
  json_t *list = NULL;
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  if (aws_cfn_describe_stack_resources(l->aws, p->stack, &list, &res) != 0) {
    LOG_DEBUG("launcher", "instance %s:%s: DescribeStackResources: %s %s", p->tenant, p->id,
              res.code, res.message);
    return;
  }
  json_t *fields = json_object();
  size_t i;
  json_t *r;
  json_array_foreach(list, i, r) {
    const char *type = actor_json_str(r, "type", "");
    const char *phys = actor_json_str(r, "physical_id", "");
    if (*phys == '\0')
      continue;
    if (strcmp(type, "AWS::EC2::Instance") == 0 &&
        json_string_value(json_object_get(rec, "ec2_instance_id")) == NULL)
      json_object_set_new(fields, "ec2_instance_id", json_string(phys));
    else if (strcmp(type, "AWS::EC2::Volume") == 0 &&
             json_string_value(json_object_get(rec, "volume_id")) == NULL)
      json_object_set_new(fields, "volume_id", json_string(phys));
  }
  if (json_object_size(fields) > 0) {
    int rc = update(l, rec, fields);
    if (rc != 0)
      LOG_WARN("launcher", "instance %s:%s: could not record its resources: %s", p->tenant,
               p->id, actor_strerror(rc));
  }
  json_decref(fields);
  json_decref(list);
}

/* The stack is complete: observe the instance. */
static void observe(launcher_poll_t *p, json_t *rec) {
  launcher_t *l = p->l;
  const char *ec2 = json_string_value(json_object_get(rec, "ec2_instance_id"));
  if (ec2 == NULL) {
    p->event = launcher_fail(l, rec, FROM_CREATING, NULL, "launch", "DescribeStackResources",
                             "NoInstance", "the stack has no AWS::EC2::Instance resource", "");
    p->finished = true;
    return;
  }
  json_t *ids = json_pack("[s]", ec2), *list = NULL;
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  int rc = ids ? aws_ec2_describe_instances(l->aws, NULL, NULL, ids, &list, &res) : ACTOR_ENOMEM;
  json_decref(ids);
  json_t *inst = rc == 0 ? json_array_get(list, 0) : NULL;
  if (inst == NULL) { /* not listed yet (eventual consistency): next poll */
    LOG_DEBUG("launcher", "instance %s:%s: %s not described yet (%s)", p->tenant, p->id, ec2,
              res.code);
    json_decref(list);
    return;
  }
  const char *observed = actor_json_str(inst, "state", "pending");
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "state", observed, "observed_state", observed,
                        "observed", now, "enacted", now);
  launcher_copy_observed(f, inst);
  rc = f ? cloud_instance_transition(l->redis, p->tenant, p->id, FROM_CREATING, f)
         : ACTOR_ENOMEM;
  if (rc == 0) {
    json_object_update(rec, f);
    /* its address: the DNS plugin's entry (best effort, recorded) */
    ACTOR_IGNORE(cloud_dns_sync(l->dns, l->redis, rec));
    if (strcmp(observed, "running") == 0) {
      LOG_INFO("launcher", "instance %s:%s (%s) is running", p->tenant, p->id, ec2);
      p->event = launcher_event_text(CHAN_EVENT_INSTANCE_READY, rec);
      p->finished = true;
    } else if (strcmp(observed, "pending") != 0) {
      p->finished = true; /* stopped or gone already: the updater follows it */
    }
  } else if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    p->finished = true;
  } else {
    LOG_WARN("launcher", "instance %s:%s: could not record its observation: %s", p->tenant,
             p->id, actor_strerror(rc));
  }
  json_decref(f);
  json_decref(list);
}

/* The stack failed: why, from its events. */
static void failed(launcher_poll_t *p, json_t *rec, const json_t *st) {
  launcher_t *l = p->l;
  json_t *events = NULL;
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  if (aws_cfn_describe_stack_events(l->aws, p->stack, &events, &res) != 0)
    LOG_WARN("launcher", "instance %s:%s: DescribeStackEvents: %s %s", p->tenant, p->id,
             res.code, res.message);
  const char *status = actor_json_str(st, "status", "");
  const char *reason = launcher_failure_reason(events);
  char why[700];
  if (reason == NULL)
    reason = actor_json_str(st, "status_reason", "");
  if (*reason == '\0')
    snprintf(why, sizeof(why), "the stack ended in %s", status);
  else
    snprintf(why, sizeof(why), "%s", reason);
  p->event = launcher_fail(l, rec, FROM_CREATING, NULL, "launch", "CreateStack", status, why,
                           res.request_id);
  p->finished = true;
  json_decref(events);
}

static void poll_work(uv_work_t *w) {
  launcher_poll_t *p = w->data;
  launcher_t *l = p->l;
  json_t *rec = NULL, *st = NULL;
  p->count++;
  int rc = cloud_instance_get(l->redis, p->tenant, p->id, &rec);
  if (rc == ACTOR_ENOTFOUND) {
    p->finished = true;
    return;
  }
  if (rc != 0)
    goto limit;
  const char *state = actor_json_str(rec, "state", "");
  bool ours = strcmp(state, "launching") == 0 || strcmp(state, "pending") == 0;
  /* The ids even when the updater saw the instance first (and moved it
   * on): it knows the instance, not the stack's volume. */
  if (!cloud_state_terminal(state) &&
      (json_string_value(json_object_get(rec, "ec2_instance_id")) == NULL ||
       json_string_value(json_object_get(rec, "volume_id")) == NULL))
    resources(p, rec);
  if (!ours) {
    p->finished = true; /* someone else moved it on */
    goto cleanup;
  }
  aws_result_t res;
  memset(&res, 0, sizeof(res));
  rc = aws_cfn_describe_stack(l->aws, p->stack, &st, &res);
  if (rc != 0 && res.cls == AWS_NOTFOUND) {
    char why[400];
    snprintf(why, sizeof(why), "the stack %s does not exist", p->stack);
    p->event = launcher_fail(l, rec, FROM_CREATING, NULL, "launch", "DescribeStacks",
                             res.code, why, res.request_id);
    p->finished = true;
    goto cleanup;
  }
  if (rc != 0) {
    LOG_WARN("launcher", "instance %s:%s: DescribeStacks %s: %s %s", p->tenant, p->id,
             aws_class_name(res.cls), res.code, res.message);
    goto limit;
  }
  const char *status = actor_json_str(st, "status", "");
  if (strcmp(status, actor_json_str(rec, "stack_status", "")) != 0) {
    json_t *f = json_pack("{s:s}", "stack_status", status);
    if (f == NULL || update(l, rec, f) != 0)
      LOG_DEBUG("launcher", "instance %s:%s: stack status %s not recorded", p->tenant, p->id,
                status);
    json_decref(f);
  }
  switch (launcher_stack_phase(status)) {
  case LAUNCHER_STACK_COMPLETE:
    observe(p, rec);
    break;
  case LAUNCHER_STACK_FAILED:
    failed(p, rec, st);
    break;
  case LAUNCHER_STACK_WAIT:
    break;
  }
limit:
  if (!p->finished && p->count >= l->cs.poll_max_count && rec != NULL) {
    char why[300];
    snprintf(why, sizeof(why), "the stack was not complete after %ld polls (%s)", p->count,
             actor_json_str(rec, "stack_status", "no status"));
    p->event = launcher_fail(l, rec, FROM_CREATING, NULL, "launch", "DescribeStacks",
                             "PollLimit", why, "");
    p->finished = true;
  } else if (!p->finished && p->count >= l->cs.poll_max_count) {
    LOG_ERROR("launcher", "instance %s:%s: giving up polling after %ld polls", p->tenant, p->id,
              p->count);
    p->finished = true;
  }
cleanup:
  json_decref(st);
  json_decref(rec);
}

static void on_timer(uv_timer_t *t);

static void after_poll(uv_work_t *w, int status) {
  launcher_poll_t *p = w->data;
  launcher_t *l = p->l;
  p->working = false;
  launcher_event_publish(l, p->event);
  p->event = NULL;
  if (status != 0 || p->finished || l->stopping) {
    poll_close(p);
    return;
  }
  uv_timer_start(&p->timer, on_timer,
                 (uint64_t)launcher_poll_delay_ms(l->cs.poll_initial_ms, l->cs.poll_step_ms,
                                                  l->cs.poll_max_ms, p->count),
                 0);
}

static void on_timer(uv_timer_t *t) {
  launcher_poll_t *p = t->data;
  if (p->l->stopping) {
    poll_close(p);
    return;
  }
  p->working = true;
  if (uv_queue_work(p->l->loop, &p->work, poll_work, after_poll) != 0) {
    p->working = false;
    poll_close(p);
  }
}

void launcher_poll_start(launcher_t *l, const char *tenant, const char *id, const char *stack) {
  for (launcher_poll_t *q = l->polls; q; q = q->next)
    if (!q->closing && strcmp(q->tenant, tenant) == 0 && strcmp(q->id, id) == 0)
      return;
  launcher_poll_t *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    LOG_ERROR("launcher", "instance %s:%s: out of memory for its poller", tenant, id);
    return;
  }
  p->l = l;
  snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
  snprintf(p->id, sizeof(p->id), "%s", id);
  snprintf(p->stack, sizeof(p->stack), "%s", stack);
  p->work.data = p;
  uv_timer_init(l->loop, &p->timer);
  p->timer.data = p;
  p->next = l->polls;
  if (l->polls)
    l->polls->prev = p;
  l->polls = p;
  uv_timer_start(&p->timer, on_timer,
                 (uint64_t)launcher_poll_delay_ms(l->cs.poll_initial_ms, l->cs.poll_step_ms,
                                                  l->cs.poll_max_ms, 0),
                 0);
}

void launcher_poll_stop_all(launcher_t *l) {
  for (launcher_poll_t *p = l->polls; p; p = p->next)
    if (!p->working) /* a working one closes in after_poll */
      poll_close(p);
}

/* ---- resuming at start ---- */

typedef struct {
  launcher_t *l;
  uv_work_t work;
  json_t *recs;
} resume_t;

static void resume_work(uv_work_t *w) {
  resume_t *r = w->data;
  int rc = cloud_instances_of_tag(r->l->redis, r->l->cs.tag, &r->recs);
  if (rc != 0)
    LOG_ERROR("launcher", "cannot list the instances of tag %s to resume their polling: %s",
              r->l->cs.tag, actor_strerror(rc));
}

static void after_resume(uv_work_t *w, int status) {
  resume_t *r = w->data;
  launcher_t *l = r->l;
  size_t i, n = 0;
  json_t *rec;
  json_array_foreach(r->recs, i, rec) {
    const char *stack = actor_json_str(rec, "stack_id", "");
    if (status != 0 || l->stopping || *stack == '\0' ||
        strcmp(actor_json_str(rec, "state", ""), "launching") != 0)
      continue;
    launcher_poll_start(l, actor_json_str(rec, "tenant", ""), actor_json_str(rec, "id", ""),
                        stack);
    n++;
  }
  if (n > 0)
    LOG_INFO("launcher", "resumed polling of %zu stack(s)", n);
  json_decref(r->recs);
  free(r);
  l->inflight--;
  launcher_check_idle(l);
}

void launcher_poll_resume_all(launcher_t *l) {
  resume_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  r->l = l;
  r->work.data = r;
  l->inflight++;
  if (uv_queue_work(l->loop, &r->work, resume_work, after_resume) != 0) {
    l->inflight--;
    free(r);
  }
}
