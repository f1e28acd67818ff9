/* The reconciler's executor (updater.h): applies a plan's steps to Redis
 * through cloud.h, publishes the events the writes imply, and gives an
 * object whose step failed its backend_status entry and its own back-off
 * (doubling from 1 s to [cloud] retry_cap_ms), while the others go on.
 *
 * Design note. A step that changes `state` is written as a guarded
 * transition from the state the plan read, so a user action the api
 * recorded meanwhile is never overwritten by an older observation (the
 * step is dropped; the next pass sees both). Steps are independent, so
 * `threads` writers take them from one shared index: each write is a
 * round trip or two to Redis, and at 10,000 instances a single writer
 * would spend most of the pass waiting on them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "updater.h"

typedef struct {
  const json_t *steps;
  const upd_apply_opts_t *o;
  atomic_size_t next;
  atomic_long written, failed, skipped, events;
  atomic_int nomem;
} apply_run_t;

static const char *str(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static bool streq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* The record after the step's fields (new reference). */
static json_t *merged(const json_t *rec, const json_t *fields) {
  json_t *m = json_copy((json_t *)rec);
  if (m && fields && json_object_update(m, (json_t *)fields) != 0) {
    json_decref(m);
    return NULL;
  }
  return m;
}

static void publish(apply_run_t *run, const char *event, const json_t *rec) {
  if (event == NULL || run->o->chan == NULL)
    return;
  int rc = upd_event_publish(run->o->chan, event, rec);
  if (rc != 0)
    LOG_WARN("updater", "instance %s/%s: %s not published: %s", str(rec, "tenant"),
             str(rec, "id"), event, actor_strerror(rc));
  else
    run->events++;
}

long long upd_backoff_next(long long prev, long cap_ms) {
  long long cap = cap_ms > 0 ? cap_ms : UPD_BACKOFF_FIRST_MS;
  if (prev <= 0)
    return UPD_BACKOFF_FIRST_MS < cap ? UPD_BACKOFF_FIRST_MS : cap;
  /* prev * 2 only when it cannot pass the cap (nor overflow) */
  return prev >= cap / 2 ? cap : prev * 2;
}

/* Records the failure of op on the step's object and backs it off. */
static void fail_object(apply_run_t *run, const json_t *step, const char *op, const char *code,
                        const char *message, const char *request_id) {
  const upd_apply_opts_t *o = run->o;
  const char *tenant = str(step, "tenant"), *id = str(step, "id");
  const json_t *rec = json_object_get(step, "record");
  run->failed++;
  if (tenant == NULL || id == NULL)
    return;
  long long backoff =
      upd_backoff_next(json_integer_value(json_object_get(rec, "backoff_ms")), o->retry_cap_ms);
  char next[ACTOR_TIME_MAX];
  actor_time_format(o->now_ms + backoff, next);
  LOG_WARN("updater", "instance %s/%s (%s): %s failed: %s %s; next try in %lld ms", tenant, id,
           str(step, "ec2_instance_id") ? str(step, "ec2_instance_id") : "no instance", op, code,
           message, backoff);
  int rc = cloud_instance_backend_error(o->redis, tenant, id, op, code, message,
                                        request_id ? request_id : "");
  json_t *f = json_pack("{s:I, s:s}", "backoff_ms", backoff, "next_run", next);
  if (rc == 0 && f)
    rc = cloud_instance_update(o->redis, tenant, id, f);
  json_decref(f);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    LOG_WARN("updater", "instance %s/%s: its back-off was not stored: %s", tenant, id,
             actor_strerror(rc));
}

static void store_failed(apply_run_t *run, const json_t *step, const char *op, int rc) {
  fail_object(run, step, op, actor_strerror(rc), "the store failed", NULL);
}

/* refresh and mark_gone: the fields, guarded by the state the plan read. */
static void apply_fields(apply_run_t *run, const json_t *step) {
  const upd_apply_opts_t *o = run->o;
  const char *tenant = str(step, "tenant"), *id = str(step, "id");
  const json_t *rec = json_object_get(step, "record");
  const json_t *fields = json_object_get(step, "fields");
  const char *from = str(rec, "state");
  const char *const guard[] = {from, NULL};
  int rc;
  if (json_object_get(fields, "state") || json_object_get(fields, "desired_state"))
    rc = cloud_instance_transition(o->redis, tenant, id, from ? guard : NULL, fields);
  else
    rc = cloud_instance_update(o->redis, tenant, id, fields);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    run->skipped++; /* changed or removed meanwhile: the next pass sees it */
    return;
  }
  if (rc != 0) {
    store_failed(run, step, str(step, "op"), rc);
    return;
  }
  run->written++;
  const char *event = str(step, "event");
  json_t *after = (event || o->dns) ? merged(rec, fields) : NULL;
  if (event && after)
    publish(run, event, after);
  /* an address seen first here, or the end: the DNS entry follows */
  if (after && o->dns)
    ACTOR_IGNORE(cloud_dns_sync(o->dns, o->redis, after));
  json_decref(after);
}

/* A launch whose launcher went silent: the stack tells what became of it. */
static void apply_poll_stack(apply_run_t *run, const json_t *step) {
  const upd_apply_opts_t *o = run->o;
  const char *tenant = str(step, "tenant"), *id = str(step, "id"), *stack = str(step, "stack");
  const json_t *rec = json_object_get(step, "record");
  if (o->aws == NULL || stack == NULL) {
    run->skipped++;
    return;
  }
  aws_result_t res;
  json_t *desc = NULL, *resources = NULL, *f = json_object();
  char now[ACTOR_TIME_MAX];
  actor_time_format(o->now_ms, now);
  if (f == NULL)
    goto cleanup;
  int rc = aws_cfn_describe_stack(o->aws, stack, &desc, &res);
  const char *status = str(desc, "status");
  if (rc != 0 && res.cls != AWS_NOTFOUND) {
    fail_object(run, step, "DescribeStacks", res.code, res.message, res.request_id);
    goto cleanup;
  }
  json_object_set_new(f, "observed", json_string(now));
  const char *event = NULL;
  if (rc != 0 || status == NULL || strstr(status, "FAILED") || strstr(status, "ROLLBACK") ||
      strncmp(status, "DELETE", 6) == 0) {
    char why[600];
    const char *reason = str(desc, "status_reason");
    snprintf(why, sizeof(why), "stack %s: %s", stack,
             rc != 0 ? "does not exist" : reason ? reason : status ? status : "no status");
    json_object_set_new(f, "state", json_string("failed"));
    json_object_set_new(f, "error", json_string(why));
    if (status)
      json_object_set_new(f, "stack_status", json_string(status));
    event = UPD_EVENT_ERROR;
  } else {
    json_object_set_new(f, "stack_status", json_string(status));
    if (streq(status, "CREATE_COMPLETE") || streq(status, "UPDATE_COMPLETE")) {
      rc = aws_cfn_describe_stack_resources(o->aws, stack, &resources, &res);
      if (rc != 0) {
        fail_object(run, step, "DescribeStackResources", res.code, res.message, res.request_id);
        goto cleanup;
      }
      size_t i;
      json_t *r;
      json_array_foreach(resources, i, r) {
        const char *type = str(r, "type"), *phys = str(r, "physical_id");
        if (phys && streq(type, "AWS::EC2::Instance"))
          json_object_set_new(f, "ec2_instance_id", json_string(phys));
        else if (phys && streq(type, "AWS::EC2::Volume"))
          json_object_set_new(f, "volume_id", json_string(phys));
      }
    }
  }
  const char *const guard[] = {"launching", NULL};
  rc = json_object_get(f, "state") ? cloud_instance_transition(o->redis, tenant, id, guard, f)
                                   : cloud_instance_update(o->redis, tenant, id, f);
  if (rc == ACTOR_ESTATE || rc == ACTOR_ENOTFOUND) {
    run->skipped++;
  } else if (rc != 0) {
    store_failed(run, step, "poll_stack", rc);
  } else {
    run->written++;
    if (event) {
      json_t *after = merged(rec, f);
      if (after)
        publish(run, event, after);
      json_decref(after);
    }
  }

cleanup:
  json_decref(desc);
  json_decref(resources);
  json_decref(f);
}

static void apply_one(apply_run_t *run, const json_t *step) {
  const upd_apply_opts_t *o = run->o;
  const char *op = str(step, "op");
  const char *tenant = str(step, "tenant"), *id = str(step, "id");
  int rc;
  if (streq(op, UPD_OP_SKIP)) {
    run->skipped++;
  } else if (streq(op, UPD_OP_ADOPT)) {
    const json_t *rec = json_object_get(step, "record");
    if ((rc = cloud_instance_create(o->redis, rec)) != 0) {
      LOG_WARN("updater", "adopting %s as %s/%s failed: %s", str(step, "ec2_instance_id"),
               tenant, id, actor_strerror(rc));
      run->failed++;
    } else {
      LOG_INFO("updater", "adopted %s (%s) as %s/%s", str(step, "ec2_instance_id"),
               str(rec, "state"), tenant, id);
      run->written++;
    }
  } else if (streq(op, UPD_OP_REFRESH) || streq(op, UPD_OP_MARK_GONE)) {
    apply_fields(run, step);
  } else if (streq(op, UPD_OP_REMOVE)) {
    rc = cloud_instance_delete(o->redis, tenant, id);
    if (rc != 0 && rc != ACTOR_ENOTFOUND) {
      store_failed(run, step, op, rc);
    } else {
      LOG_INFO("updater", "removed the record %s/%s (%s gone)", tenant, id,
               str(step, "ec2_instance_id") ? str(step, "ec2_instance_id") : "no instance");
      run->written++;
    }
  } else if (streq(op, UPD_OP_POLL_STACK)) {
    apply_poll_stack(run, step);
  }
}

static void *writer(void *arg) {
  apply_run_t *run = arg;
  size_t n = json_array_size(run->steps);
  for (size_t i = atomic_fetch_add(&run->next, 1); i < n; i = atomic_fetch_add(&run->next, 1))
    apply_one(run, json_array_get(run->steps, i));
  return NULL;
}

int upd_apply(const json_t *steps, const upd_apply_opts_t *o, upd_apply_stats_t *st) {
  apply_run_t run = {.steps = steps, .o = o};
  memset(st, 0, sizeof(*st));
  size_t n = json_array_size(steps);
  /* stacks go first, before their instances' steps run */
  size_t i = 0;
  for (; i < n && streq(str(json_array_get(steps, i), "op"), UPD_OP_POLL_STACK); i++)
    apply_one(&run, json_array_get(steps, i));
  atomic_store(&run.next, i);
  int threads = o->threads < 1 ? 1 : o->threads > 16 ? 16 : o->threads;
  if ((size_t)threads > n - i)
    threads = n - i > 0 ? (int)(n - i) : 1;
  pthread_t tid[16];
  int started = 0;
  for (int t = 1; t < threads; t++)
    if (pthread_create(&tid[started], NULL, writer, &run) == 0)
      started++;
  writer(&run);
  for (int t = 0; t < started; t++)
    pthread_join(tid[t], NULL);
  st->written = run.written;
  st->failed = run.failed;
  st->skipped = run.skipped;
  st->events = run.events;
  return run.nomem ? ACTOR_ENOMEM : 0;
}
