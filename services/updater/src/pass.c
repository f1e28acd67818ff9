/* One reconciler pass (updater.h): the lease, the listing, the records,
 * the plan and its application, the metrics, and the status key
 * abaco:cloud:status:<tag> ({ok, time, error, last_error, last_ok, listed,
 * records, duration_ms}) that tells an operator whether the reconciler can
 * reach the cloud (bad credentials show there, and in the log once per
 * change of status).
 *
 * The lease abaco:cloud:reconciler:<tag> is taken for twice the interval
 * plus a minute (a crashed host lets it go by itself) and, after the pass,
 * kept until just before this process's next pass is due: so one host
 * keeps reconciling while it lives, and another takes over within an
 * interval or two of its death. */
#include <stdio.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "updater.h"

void upd_aws_observer(void *data, const char *op, const aws_result_t *res) {
  upd_ctx_t *c = data;
  int rc = cloud_metrics_aws_call(c->redis, op, aws_class_name(res->cls), res->throttled);
  if (rc != 0)
    LOG_DEBUG("updater", "aws call metrics not stored: %s", actor_strerror(rc));
}

/* Writes the status key; logs when the status changed since the last one
 * logged. err NULL: the pass went through. */
static void status_write(upd_ctx_t *c, const upd_pass_report_t *rep, const char *cls,
                         const char *code, const char *message, const char *request_id) {
  char key[256], now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  snprintf(key, sizeof(key), "abaco:cloud:status:%s", c->settings.tag);
  json_t *err = cls ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "class", cls, "code", code,
                                "message", message, "request_id", request_id ? request_id : "",
                                "time", now)
                    : json_null();
  if (cls && err) { /* last_error and last_ok are this process's memory */
    json_decref(c->last_error);
    c->last_error = json_incref(err);
  } else if (!cls) {
    snprintf(c->last_ok, sizeof(c->last_ok), "%s", now);
  }
  json_t *st = json_pack("{s:s, s:b, s:s, s:O, s:I, s:I, s:I, s:O, s:o}", "tag", c->settings.tag,
                         "ok", cls == NULL, "time", now, "error", err, "listed",
                         (json_int_t)rep->listed, "records", (json_int_t)rep->records,
                         "duration_ms", (json_int_t)rep->total_ms, "last_error",
                         c->last_error ? c->last_error : json_null(), "last_ok",
                         c->last_ok[0] ? json_string(c->last_ok) : json_null());
  char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
  long ttl = c->settings.update_interval * 10 > 3600 ? c->settings.update_interval * 10 : 3600;
  int rc = text ? store_value_set_ttl(c->redis, key, text, ttl) : ACTOR_ENOMEM;
  if (rc != 0)
    LOG_WARN("updater", "%s not written: %s", key, actor_strerror(rc));
  free(text);
  json_decref(st);
  json_decref(err);

  char sig[sizeof(c->last_status)];
  snprintf(sig, sizeof(sig), "%s %s", cls ? cls : "ok", cls ? code : "");
  if (strcmp(sig, c->last_status) != 0) {
    if (cls)
      LOG_ERROR("updater", "tag %s: the cloud cannot be reconciled: %s (%s): %s%s%s",
                c->settings.tag, code, cls, message, request_id && *request_id ? "; request " : "",
                request_id ? request_id : "");
    else if (c->last_status[0])
      LOG_INFO("updater", "tag %s: reconciling again (listed %ld instances)", c->settings.tag,
               rep->listed);
    snprintf(c->last_status, sizeof(c->last_status), "%s", sig);
  }
}

void upd_pass_run(upd_ctx_t *c, int64_t next_due_in_ms, upd_pass_report_t *rep) {
  memset(rep, 0, sizeof(*rep));
  const cloud_settings_t *s = &c->settings;
  int64_t t0 = actor_time_mono_ms();
  int64_t interval_ms = (int64_t)s->update_interval * 1000;
  char lease[256];
  snprintf(lease, sizeof(lease), "abaco:cloud:reconciler:%s", s->tag);
  bool mine = false;
  int rc = store_lease_take(c->redis, lease, c->owner, 2 * interval_ms + 60000, &mine);
  if (rc != 0) {
    LOG_WARN("updater", "lease %s: %s; no pass", lease, actor_strerror(rc));
    return;
  }
  if (!mine) {
    LOG_DEBUG("updater", "lease %s is held by another reconciler", lease);
    return;
  }
  rep->ran = true;
  json_t *listing = NULL, *records = NULL, *steps = NULL;
  aws_result_t res;
  memset(&res, 0, sizeof(res));

  int64_t t = actor_time_mono_ms();
  rc = aws_ec2_describe_instances(c->aws, "LaunchedBy", s->tag, NULL, &listing, &res);
  rep->list_ms = actor_time_mono_ms() - t;
  if (rc != 0) {
    /* never "everything is gone": a failed listing changes nothing */
    rep->total_ms = actor_time_mono_ms() - t0;
    status_write(c, rep, aws_class_name(res.cls), res.code, res.message, res.request_id);
    goto done;
  }
  rep->listing_ok = true;
  rep->listed = (long)json_array_size(listing);

  t = actor_time_mono_ms();
  rc = cloud_instances_of_tag(c->redis, s->tag, &records);
  rep->read_ms = actor_time_mono_ms() - t;
  if (rc != 0) {
    rep->total_ms = actor_time_mono_ms() - t0;
    status_write(c, rep, "store", actor_strerror(rc), "the records of the tag cannot be read",
                 NULL);
    goto done;
  }
  rep->records = (long)json_array_size(records);

  upd_plan_opts_t po = {.tag = s->tag,
                        .default_tenant = c->default_tenant,
                        .now_ms = actor_time_now_ms(),
                        .stale_guard_ms = (int64_t)s->stale_guard * 1000,
                        .gone_grace_ms = (int64_t)s->gone_grace * 1000};
  t = actor_time_mono_ms();
  rc = upd_plan(listing, records, &po, &steps);
  rep->plan_ms = actor_time_mono_ms() - t;
  if (rc != 0) {
    LOG_ERROR("updater", "planning failed: %s", actor_strerror(rc));
    goto done;
  }
  upd_plan_count(steps, &rep->counts);

  upd_apply_opts_t ao = {.redis = c->redis,
                         .aws = c->aws,
                         .chan = c->chan,
                         .now_ms = po.now_ms,
                         .retry_cap_ms = s->retry_cap_ms,
                         .threads = c->threads,
                         .dns = c->dns};
  t = actor_time_mono_ms();
  rc = upd_apply(steps, &ao, &rep->applied);
  rep->apply_ms = actor_time_mono_ms() - t;
  t = actor_time_mono_ms();
  long vfailed = 0;
  if (upd_volumes_apply(c->redis, c->aws, records, &rep->volumes_written, &vfailed) != 0 ||
      vfailed > 0)
    LOG_WARN("updater", "volume step: %ld written, %ld records not written",
             rep->volumes_written, vfailed);
  rep->volume_ms = actor_time_mono_ms() - t;
  rep->total_ms = actor_time_mono_ms() - t0;
  status_write(c, rep, NULL, NULL, NULL, NULL);
  const upd_counts_t *k = &rep->counts;
  int level = json_array_size(steps) > 0 || rep->volumes_written > 0 || rep->total_ms > 1000
                  ? ACTOR_LOG_INFO
                  : ACTOR_LOG_DEBUG;
  ACTOR_LOG(level, "updater",
             "pass over %ld listed, %ld records in %lld ms (list %lld, read %lld, plan %lld, "
             "apply %lld, volumes %lld): adopt %ld, refresh %ld, gone %ld, remove %ld, "
             "stacks %ld, backed off %ld; written %ld, failed %ld, events %ld, volumes %ld",
             rep->listed, rep->records, (long long)rep->total_ms, (long long)rep->list_ms,
             (long long)rep->read_ms, (long long)rep->plan_ms, (long long)rep->apply_ms,
             (long long)rep->volume_ms, k->adopt, k->refresh, k->mark_gone, k->remove,
             k->poll_stack, k->skip, rep->applied.written, rep->applied.failed,
             rep->applied.events, rep->volumes_written);

done:
  /* the clusters' triggers, on the same tick and under the same lease
   * (docs/clusters.md), even when the listing failed */
  {
    upd_cluster_ctx_t cx = {.redis = c->redis,
                            .mongo = c->mongo,
                            .chan = c->chan,
                            .settings = &c->settings,
                            .test_hooks = c->clusters_test_hooks,
                            .aws = c->aws,
                            .notify = &c->notify};
    upd_cluster_report_t cr;
    int64_t tc = actor_time_mono_ms();
    upd_clusters_tick(&cx, &cr);
    if (cr.clusters > 0)
      LOG_DEBUG("updater",
                "clusters: %ld clusters, %ld counters in %lld ms (read %lld, plan %lld, apply "
                "%lld); fired %ld",
                cr.clusters, cr.counters, (long long)(actor_time_mono_ms() - tc),
                (long long)cr.read_ms, (long long)cr.plan_ms, (long long)cr.apply_ms, cr.fired);
  }
  if (rep->total_ms == 0)
    rep->total_ms = actor_time_mono_ms() - t0;
  rc = cloud_metrics_reconcile(c->redis, rep->total_ms, rep->listing_ok ? rep->listed : 0);
  if (rc != 0)
    LOG_WARN("updater", "reconcile metrics not stored: %s", actor_strerror(rc));
  json_decref(listing);
  json_decref(records);
  json_decref(steps);
  /* keep the lease until just before our next pass is due */
  int64_t keep = next_due_in_ms - (actor_time_mono_ms() - t0) - 200;
  rc = store_lease_end(c->redis, lease, c->owner, keep > 0 ? keep : 0);
  if (rc != 0)
    LOG_WARN("updater", "lease %s not kept: %s", lease, actor_strerror(rc));
}
