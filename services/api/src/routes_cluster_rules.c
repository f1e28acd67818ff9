/* /clusters, the rules half (docs/clusters.md): counters and their
 * sources, node-reported samples (open: the counter's token), triggers
 * with their ordered actions, manual fires and runs. Clusters and nodes
 * are routes_clusters.c's; both share clusters_int.h. */
#include <ctype.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cluster.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/notify.h"
#include "actor/timefmt.h"
#include "cloud_api.h"
#include "clusters_int.h"

/* ---- counters ---- */

/* The source of a counter: {kind: metric, series, labels} | {kind: node}
 * | {kind: actor, actor, schedule (seconds), message}. New reference, or
 * NULL after answering. */
static json_t *source_checked(api_req_t *r, json_t *body) {
  json_t *src = NULL;
  if (api_field_object(r, body, "source", &src) != 0)
    return NULL;
  if (src == NULL) {
    api_error(r, 400, "source is required: {\"kind\": \"metric\" | \"node\" | \"actor\", ...}.");
    return NULL;
  }
  const char *kind = actor_json_str(src, "kind", "");
  json_t *out = NULL;
  if (strcmp(kind, "node") == 0) {
    out = json_pack("{s:s}", "kind", "node");
  } else if (strcmp(kind, "metric") == 0) {
    const char *series = actor_json_str(src, "series", "");
    json_t *labels = json_object_get(src, "labels");
    bool ok = *series && strlen(series) <= 128;
    for (const char *p = series; ok && *p; p++)
      ok = isalnum((unsigned char)*p) || *p == '_' || *p == ':';
    if (!ok) {
      api_error(r, 400, "Invalid source.series: a /metrics series name ([A-Za-z0-9_:]).");
    } else if (labels && !json_is_object(labels) && !json_is_null(labels)) {
      api_error(r, 400, "Invalid source.labels: an object of label name to value.");
    } else {
      const char *k;
      json_t *v;
      bool good = json_object_size(labels) <= 16;
      json_object_foreach(labels, k, v) {
        good = good && json_is_string(v) && strlen(k) <= 64 && json_string_length(v) <= 256;
      }
      if (!good)
        api_error(r, 400, "Invalid source.labels: at most 16 labels with string values.");
      else
        out = json_pack("{s:s, s:s, s:O}", "kind", "metric", "series", series, "labels",
                        labels && json_is_object(labels) ? labels : json_object());
      if (out && !labels)
        json_object_set_new(out, "labels", json_object());
    }
  } else if (strcmp(kind, "actor") == 0) {
    const char *actor = actor_json_str(src, "actor", "");
    json_t *sched = json_object_get(src, "schedule");
    json_t *msg = json_object_get(src, "message");
    if (!api_cloud_name_ok(actor, 128)) {
      api_error(r, 400, "Invalid source.actor: an actor id or alias.");
    } else if (!json_is_integer(sched) || json_integer_value(sched) < 1 ||
               json_integer_value(sched) > SCHEDULE_MAX_S) {
      api_error(r, 400, "Invalid source.schedule: seconds between runs, 1 to %d.",
                SCHEDULE_MAX_S);
    } else if (msg && (!json_is_string(msg) || json_string_length(msg) > MESSAGE_MAX)) {
      api_error(r, 400, "Invalid source.message: a string of at most %d bytes.", MESSAGE_MAX);
    } else {
      out = json_pack("{s:s, s:s, s:O, s:s}", "kind", "actor", "actor", actor, "schedule", sched,
                      "message", msg ? json_string_value(msg) : "sample");
    }
  } else {
    api_error(r, 400, "Invalid source.kind: one of metric, node, actor.");
  }
  json_decref(src);
  return out;
}

void api_cluster_counter_add(api_req_t *r) {
  json_t *rec = clu_load(r), *body = NULL, *counter = NULL, *src = NULL, *all = NULL;
  if (rec == NULL || (body = api_body_object(r)) == NULL)
    goto out;
  const char *name = NULL, *cmp = NULL;
  double threshold = 0;
  long long history = 0;
  bool has_threshold = false, has_history = false;
  if (clu_name_field(r, body, "name", true, &name) != 0 ||
      clu_num_field(r, body, "threshold", -1e300, 1e300, &has_threshold, &threshold) != 0 ||
      api_field_string(r, body, "comparison", &cmp) != 0 ||
      clu_int_field(r, body, "history", 1, CLUSTER_HISTORY_MAX, &has_history, &history) != 0)
    goto out;
  if (!has_threshold) {
    api_error(r, 400, "threshold is required: a number.");
    goto out;
  }
  if (!cluster_comparison_valid(cmp)) {
    api_error(r, 400, "Invalid comparison: one of >, >=, <, <=.");
    goto out;
  }
  if ((src = source_checked(r, body)) == NULL)
    goto out;
  int rc = cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters", &all);
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    goto out;
  }
  if (json_object_size(all) >= CLUSTER_MAX_COUNTERS) {
    api_error(r, 400, "Too many counters: a cluster has at most %d.", CLUSTER_MAX_COUNTERS);
    goto out;
  }
  char id[ACTOR_ID_MAX], now[ACTOR_TIME_MAX], token[65];
  actor_time_now_text(now);
  if (actor_id_new(id) != 0 || actor_token_new(token) != 0) {
    api_error(r, 500, "Could not make a counter id or token.");
    goto out;
  }
  counter = json_pack("{s:s, s:s, s:f, s:s, s:O, s:I, s:s}", "id", id, "name", name, "threshold",
                      threshold, "comparison", cmp, "source", src, "history",
                      (json_int_t)(has_history ? history : CLUSTER_HISTORY_DEFAULT), "created",
                      now);
  if (counter && strcmp(actor_json_str(src, "kind", ""), "node") == 0)
    json_object_set_new(counter, "token", json_string(token));
  rc = counter ? cluster_item_put(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters", id,
                                  counter)
               : ACTOR_ENOMEM;
  if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_answer(r, 201, "Counter created.", json_incref(counter));
out:
  json_decref(all);
  json_decref(src);
  json_decref(counter);
  json_decref(body);
  json_decref(rec);
}

void api_cluster_counter_get(api_req_t *r) {
  json_t *rec = clu_load(r), *counter = NULL;
  if (rec == NULL)
    return;
  int rc = cluster_item_get(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters",
                            r->params[1], &counter);
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Counter %s not found in cluster %s.", r->params[1], clu_id_of(rec));
  else if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_ok(r, "Counter retrieved successfully.",
           clu_counter_display(r, rec, counter, (size_t)actor_json_int(counter, "history", 100)));
  json_decref(counter);
  json_decref(rec);
}

void api_cluster_counter_delete(api_req_t *r) {
  json_t *rec = clu_load(r), *counter = NULL;
  if (rec == NULL)
    return;
  int rc = cluster_item_get(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters",
                            r->params[1], &counter);
  if (rc == 0)
    rc = cluster_item_del(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters", r->params[1]);
  if (rc == 0)
    rc = cluster_samples_drop(r->ctx->redis, r->ident.tenant, clu_id_of(rec), r->params[1]);
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Counter %s not found in cluster %s.", r->params[1], clu_id_of(rec));
  else if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_ok(r, "Counter deleted.", NULL);
  json_decref(counter);
  json_decref(rec);
}

/* POST /clusters/{id}/counters/{cid}/samples: a node's value, {"value":
 * n}, with the counter's token in X-Counter-Token (or ?token=). Open
 * route: the token is the credential (constant-time compare). The
 * cluster's tenant comes from abaco:cluster:ids. */
void api_cluster_sample_post(api_req_t *r) {
  const char *id = r->params[0], *cid = r->params[1];
  char tenant[128];
  json_t *counter = NULL, *body = NULL;
  int rc = api_cloud_name_ok(id, 64) && api_cloud_name_ok(cid, 64)
               ? cluster_tenant_of(r->ctx->redis, id, tenant, sizeof(tenant))
               : ACTOR_ENOTFOUND;
  if (rc == 0)
    rc = cluster_item_get(r->ctx->redis, tenant, id, "counters", cid, &counter);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Counter %s of cluster %s not found.", cid ? cid : "", id ? id : "");
    goto out;
  }
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    goto out;
  }
  const char *given = ahttp_kvs_get(&r->http->headers, "X-Counter-Token", 1);
  if (given == NULL || *given == '\0')
    given = ahttp_kvs_get(&r->http->query, "token", 0);
  const char *want = actor_json_str(counter, "token", NULL);
  if (want == NULL) {
    api_error(r, 400, "Counter %s is not reported by nodes (its source is %s).", cid,
              actor_json_str(json_object_get(counter, "source"), "kind", "?"));
    goto out;
  }
  if (given == NULL || strlen(given) != strlen(want) ||
      CRYPTO_memcmp(given, want, strlen(want)) != 0) {
    api_error(r, 403, "Invalid or missing counter token (X-Counter-Token).");
    goto out;
  }
  if ((body = api_body_object(r)) == NULL)
    goto out;
  double value = 0;
  bool has = false;
  if (clu_num_field(r, body, "value", -1e300, 1e300, &has, &value) != 0)
    goto out;
  if (!has) {
    api_error(r, 400, "value is required: a number.");
    goto out;
  }
  int64_t t = actor_time_now_ms();
  rc = cluster_sample_add(r->ctx->redis, tenant, id, cid, t, value,
                          (size_t)actor_json_int(counter, "history", CLUSTER_HISTORY_DEFAULT));
  if (rc != 0) {
    api_store_error(r, rc, "sample");
    goto out;
  }
  char when[ACTOR_TIME_MAX];
  actor_time_format(t, when);
  api_ok(r, "Sample recorded.", json_pack("{s:s, s:f, s:s}", "counter", cid, "value", value,
                                          "time", when));
out:
  json_decref(body);
  json_decref(counter);
}

/* ---- triggers ---- */

static const char *const ACTION_TYPES[] = {"deploy_node", "remove_node", "run_actor", "notify",
                                           NULL};

/* One action: a type name or {type, ...}; new reference or NULL after answering. */
static json_t *action_checked(api_req_t *r, json_t *a, size_t i) {
  json_t *out = json_is_string(a) ? json_pack("{s:O}", "type", a) : json_deep_copy(a);
  const char *type = actor_json_str(out, "type", "");
  bool known = false;
  for (int k = 0; ACTION_TYPES[k]; k++)
    known = known || strcmp(type, ACTION_TYPES[k]) == 0;
  if (!json_is_object(out) || !known) {
    api_error(r, 400, "Invalid actions[%zu]: a type among deploy_node, remove_node, run_actor, "
              "notify (a string or {\"type\": ...}).", i);
    json_decref(out);
    return NULL;
  }
  if (strcmp(type, "run_actor") == 0) {
    json_t *msg = json_object_get(out, "message");
    if (!api_cloud_name_ok(actor_json_str(out, "actor", ""), 128)) {
      api_error(r, 400, "Invalid actions[%zu].actor: an actor id or alias.", i);
      json_decref(out);
      return NULL;
    }
    if (msg && json_is_string(msg) && json_string_length(msg) > MESSAGE_MAX) {
      api_error(r, 400, "Invalid actions[%zu].message: at most %d bytes.", i, MESSAGE_MAX);
      json_decref(out);
      return NULL;
    }
  }
  if (strcmp(type, "notify") == 0) {
    char err[256] = "";
    if (notify_spec_check(out, err, sizeof(err)) != 0) {
      api_error(r, 400, "Invalid actions[%zu]: %s", i, err[0] ? err : "not a notify action");
      json_decref(out);
      return NULL;
    }
  }
  if (json_dumpb(out, NULL, 0, JSON_COMPACT) > 8192) {
    api_error(r, 400, "Invalid actions[%zu]: at most 8192 bytes of JSON.", i);
    json_decref(out);
    return NULL;
  }
  return out;
}

void api_cluster_trigger_add(api_req_t *r) {
  json_t *rec = clu_load(r), *body = NULL, *trig = NULL, *counters = NULL, *actions = NULL,
         *have = NULL, *all = NULL, *checked = NULL;
  if (rec == NULL || (body = api_body_object(r)) == NULL)
    goto out;
  const char *name = NULL;
  double timing = 0, cooldown = 0;
  long long samples = 0, required = 0;
  bool has_timing = false, has_cooldown = false, has_samples = false, has_required = false;
  if (clu_name_field(r, body, "name", true, &name) != 0 ||
      api_field_list(r, body, "counters", &counters) != 0 ||
      api_field_list(r, body, "actions", &actions) != 0 ||
      clu_num_field(r, body, "timing", 0, TIMING_MAX_MIN, &has_timing, &timing) != 0 ||
      clu_num_field(r, body, "cooldown", 0, COOLDOWN_MAX_MIN, &has_cooldown, &cooldown) != 0 ||
      clu_int_field(r, body, "samples", 1, CLUSTER_HISTORY_MAX, &has_samples, &samples) != 0 ||
      clu_int_field(r, body, "required", 1, CLUSTER_HISTORY_MAX, &has_required, &required) != 0)
    goto out;
  if (has_required && !has_samples) {
    api_error(r, 400, "Invalid required: give samples (N) with required (M of N).");
    goto out;
  }
  if (has_required && required > samples) {
    api_error(r, 400, "Invalid required: %lld is more than samples (%lld).", required, samples);
    goto out;
  }
  if (!has_samples && !(has_timing && timing > 0)) {
    api_error(r, 400, "timing is required: minutes the counters must hold (or give samples).");
    goto out;
  }
  int rc = cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "counters", &have);
  if (rc == 0)
    rc = cluster_item_all(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "triggers", &all);
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    goto out;
  }
  if (json_object_size(all) >= CLUSTER_MAX_TRIGGERS) {
    api_error(r, 400, "Too many triggers: a cluster has at most %d.", CLUSTER_MAX_TRIGGERS);
    goto out;
  }
  size_t i;
  json_t *v;
  if (json_array_size(counters) > CLUSTER_MAX_COUNTERS) {
    api_error(r, 400, "Invalid counters: at most %d.", CLUSTER_MAX_COUNTERS);
    goto out;
  }
  json_array_foreach(counters, i, v) {
    if (!json_is_string(v) || json_object_get(have, json_string_value(v)) == NULL) {
      api_error(r, 400, "Invalid counters[%zu]: not a counter of cluster %s.", i, clu_id_of(rec));
      goto out;
    }
  }
  if (json_array_size(actions) == 0 || json_array_size(actions) > CLUSTER_MAX_ACTIONS) {
    api_error(r, 400, "actions is required: 1 to %d actions, run in order.", CLUSTER_MAX_ACTIONS);
    goto out;
  }
  if ((checked = json_array()) == NULL)
    goto oom;
  json_array_foreach(actions, i, v) {
    json_t *a = action_checked(r, v, i);
    if (a == NULL)
      goto out;
    json_array_append_new(checked, a);
  }
  char id[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  actor_time_now_text(now);
  if (actor_id_new(id) != 0)
    goto oom;
  trig = json_pack("{s:s, s:s, s:O, s:f, s:f, s:O, s:s}", "id", id, "name", name, "counters",
                   counters ? counters : json_array(), "timing", has_timing ? timing : 0.0,
                   "cooldown", has_cooldown ? cooldown : 5.0, "actions", checked, "created", now);
  if (trig == NULL)
    goto oom;
  json_object_set_new(trig, "samples", has_samples ? json_integer(samples) : json_null());
  json_object_set_new(trig, "required", has_required ? json_integer(required) : json_null());
  rc = cluster_item_put(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "triggers", id, trig);
  if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_answer(r, 201, "Trigger created.", json_incref(trig));
  goto out;
oom:
  api_error(r, 500, "out of memory");
out:
  json_decref(checked);
  json_decref(all);
  json_decref(have);
  json_decref(actions);
  json_decref(counters);
  json_decref(trig);
  json_decref(body);
  json_decref(rec);
}

void api_cluster_trigger_delete(api_req_t *r) {
  json_t *rec = clu_load(r), *trig = NULL;
  if (rec == NULL)
    return;
  int rc = cluster_item_get(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "triggers",
                            r->params[1], &trig);
  if (rc == 0)
    rc = cluster_item_del(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "triggers", r->params[1]);
  if (rc == 0)
    rc = cluster_item_del(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "tstate", r->params[1]);
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Trigger %s not found in cluster %s.", r->params[1], clu_id_of(rec));
  else if (rc != 0)
    api_store_error(r, rc, "cluster");
  else
    api_ok(r, "Trigger deleted.", NULL);
  json_decref(trig);
  json_decref(rec);
}

/* POST /clusters/{id}/triggers/{tid}/fire: records a manual run
 * (pending); the updater runs it at its next tick. 202 with the run. */
void api_cluster_trigger_fire(api_req_t *r) {
  json_t *rec = clu_load(r), *trig = NULL, *run = NULL;
  if (rec == NULL)
    return;
  int rc = cluster_item_get(r->ctx->redis, r->ident.tenant, clu_id_of(rec), "triggers",
                            r->params[1], &trig);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Trigger %s not found in cluster %s.", r->params[1], clu_id_of(rec));
    goto out;
  }
  if (rc != 0) {
    api_store_error(r, rc, "cluster");
    goto out;
  }
  char id[ACTOR_ID_MAX], now[ACTOR_TIME_MAX];
  int64_t now_ms = actor_time_now_ms();
  actor_time_format(now_ms, now);
  if (actor_id_new(id) != 0) {
    api_error(r, 500, "Could not make a run id.");
    goto out;
  }
  json_t *actions = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(trig, "actions"), i, a) {
    json_t *st = json_deep_copy(a);
    if (st && actions) {
      json_object_set_new(st, "status", json_string("pending"));
      json_array_append_new(actions, st);
    } else {
      json_decref(st);
    }
  }
  run = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:{s:[], s:s}, s:o, s:n, "
                  "s:n, s:n}",
                  "id", id, "tenant", r->ident.tenant, "cluster", clu_id_of(rec), "tag",
                  actor_json_str(rec, "tag", ""), "trigger", r->params[1], "trigger_name",
                  actor_json_str(trig, "name", ""), "manual", 1, "who", r->ident.username,
                  "created", now, "created_ms", (json_int_t)now_ms, "inputs", "counters", "reason",
                  "manual fire", "actions", actions ? actions : json_array(), "started",
                  "finished", "error");
  if (run)
    json_object_set_new(run, "status", json_string("pending"));
  rc = run ? cluster_run_create(r->ctx->redis, run) : ACTOR_ENOMEM;
  if (rc != 0) {
    api_store_error(r, rc, "run");
    goto out;
  }
  LOG_INFO("api", "cluster %s:%s: trigger %s fired by %s (run %s)", r->ident.tenant,
           clu_id_of(rec), r->params[1], r->ident.username, id);
  api_answer(r, 202, "Trigger fired: the updater runs its actions.", json_incref(run));
out:
  json_decref(run);
  json_decref(trig);
  json_decref(rec);
}

/* GET /clusters/{id}/runs/{rid} */
void api_cluster_run_get(api_req_t *r) {
  json_t *rec = clu_load(r), *run = NULL;
  if (rec == NULL)
    return;
  int rc = api_cloud_name_ok(r->params[1], 64)
               ? cluster_run_get(r->ctx->redis, r->ident.tenant, r->params[1], &run)
               : ACTOR_ENOTFOUND;
  if (rc == 0 && strcmp(actor_json_str(run, "cluster", ""), clu_id_of(rec)) != 0)
    rc = ACTOR_ENOTFOUND;
  if (rc == ACTOR_ENOTFOUND)
    api_error(r, 404, "Run %s not found in cluster %s.", r->params[1], clu_id_of(rec));
  else if (rc != 0)
    api_store_error(r, rc, "run");
  else
    api_ok(r, "Run retrieved successfully.", json_incref(run));
  json_decref(run);
  json_decref(rec);
}
