/* Clusters in Redis (actor/cluster.h; layout in docs/clusters.md). A
 * cluster's definition is a record; its nodes, counters, triggers and the
 * triggers' state are hashes of JSON texts, so the api (definitions) and
 * the updater (state, nodes it deploys) each write one item without
 * rewriting the others. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cluster.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "store_int.h"

#define KEY_MAX 512

static int key_of(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int key_of(char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, KEY_MAX, fmt, ap);
  va_end(ap);
  return n < 0 || n >= KEY_MAX ? ACTOR_ETOOBIG : 0;
}

/* The keys (docs/clusters.md): a cluster's record and its items
 * ("abaco:cluster:<tenant>:<id><suffix>"), a tenant's set of ids, a tag's
 * set of <tenant>:<id>, a run's record, a tag's set of pending runs. */
static int cluster_key(char *buf, const char *tenant, const char *id, const char *suffix) {
  return key_of(buf, "abaco:cluster:%s:%s%s", tenant, id, suffix);
}
static int tenant_set_key(char *buf, const char *tenant) {
  return key_of(buf, "abaco:clusters:%s", tenant);
}
static int tag_set_key(char *buf, const char *tag) {
  return key_of(buf, "abaco:clusters:tag:%s", tag);
}
static int run_key(char *buf, const char *tenant, const char *run_id) {
  return key_of(buf, "abaco:cluster:run:%s:%s", tenant, run_id);
}
static int pending_key(char *buf, const char *tag) {
  return key_of(buf, "abaco:cluster:runs:pending:%s", tag);
}

static bool kind_ok(const char *kind) {
  return kind && (strcmp(kind, "nodes") == 0 || strcmp(kind, "counters") == 0 ||
                  strcmp(kind, "triggers") == 0 || strcmp(kind, "tstate") == 0 ||
                  strcmp(kind, "cstate") == 0);
}

int cluster_create(store_redis_t *r, const json_t *obj) {
  const char *id = json_string_value(json_object_get(obj, "id"));
  const char *tenant = json_string_value(json_object_get(obj, "tenant"));
  const char *tag = json_string_value(json_object_get(obj, "tag"));
  if (!id || !tenant || !tag || !*id || !*tenant)
    return ACTOR_EINVAL;
  char key[KEY_MAX], set[KEY_MAX], tags[KEY_MAX], member[KEY_MAX];
  int rc = cluster_key(key, tenant, id, "");
  if (rc == 0)
    rc = tenant_set_key(set, tenant);
  if (rc == 0)
    rc = tag_set_key(tags, tag);
  if (rc == 0)
    rc = key_of(member, "%s:%s", tenant, id);
  bool known = false, added = false;
  long long n = 0;
  if (rc == 0 && (rc = store_key_exists(r, key, &known)) == 0 && known)
    rc = ACTOR_EEXIST;
  /* the tenant's limit: the id joins the set first and leaves it again
   * when that made too many, so concurrent creates can never pass it
   * together (both may fail at the edge; neither goes over) */
  if (rc == 0)
    rc = store_set_add(r, set, id, &added);
  if (rc == 0 && (rc = store_set_count(r, set, &n)) == 0 && n > CLUSTER_MAX_PER_TENANT) {
    rc = ACTOR_ETOOBIG;
    if (added && store_set_remove(r, set, id) != 0)
      LOG_WARN("cluster", "cluster %s:%s: left in %s after the limit refused it", tenant, id, set);
  }
  if (rc == 0)
    rc = store_record_put(r, key, obj);
  if (rc == 0)
    rc = store_hash_set(r, "abaco:cluster:ids", id, tenant, strlen(tenant));
  if (rc == 0)
    rc = store_set_add(r, tags, member, NULL);
  return rc;
}

int cluster_get(store_redis_t *r, const char *tenant, const char *id, json_t **out) {
  char key[KEY_MAX];
  *out = NULL;
  int rc = cluster_key(key, tenant, id, "");
  return rc ? rc : store_record_get(r, key, out);
}

int cluster_tenant_of(store_redis_t *r, const char *id, char *out, size_t n) {
  char *t = NULL;
  int rc = store_hash_get(r, "abaco:cluster:ids", id, &t);
  if (rc == 0 && snprintf(out, n, "%s", t) >= (int)n)
    rc = ACTOR_ETOOBIG;
  free(t);
  return rc;
}

int cluster_update(store_redis_t *r, const char *tenant, const char *id, const json_t *fields) {
  char key[KEY_MAX];
  int rc = cluster_key(key, tenant, id, "");
  return rc ? rc : store_record_update(r, key, fields);
}

int cluster_delete(store_redis_t *r, const char *tenant, const char *id, const char *tag) {
  char key[KEY_MAX], k2[KEY_MAX];
  json_t *counters = NULL;
  int rc = cluster_item_all(r, tenant, id, "counters", &counters);
  const char *cid;
  json_t *v;
  json_object_foreach(counters, cid, v) {
    if (rc == 0)
      rc = cluster_samples_drop(r, tenant, id, cid);
  }
  json_decref(counters);
  /* its runs' records (GET .../runs/{rid} needs the cluster: they could
   * never be read again); a pending one stays for its resume, which
   * finds the cluster gone and ends it */
  json_t *runs = NULL;
  if (rc == 0 && (rc = cluster_key(key, tenant, id, ":runs")) == 0)
    rc = store_list_range(r, key, CLUSTER_RUNS_KEPT, &runs);
  size_t ri;
  json_array_foreach(runs, ri, v) {
    const char *rid = json_string_value(v);
    long long busy = 0;
    if (rc != 0 || rid == NULL)
      continue;
    if ((rc = pending_key(key, tag)) == 0 && (rc = key_of(k2, "%s:%s:%s", tenant, id, rid)) == 0 &&
        (rc = store__redis_integer(store_redis_cmd(r, "SISMEMBER %s %s", key, k2), "SISMEMBER",
                                   key, &busy)) == 0 &&
        busy == 0 && (rc = run_key(key, tenant, rid)) == 0)
      rc = store_key_delete(r, key, NULL);
  }
  json_decref(runs);
  static const char *const SUFFIX[] = {"", ":nodes", ":counters", ":triggers", ":tstate", ":cstate", ":runs",
                                       NULL};
  for (int i = 0; rc == 0 && SUFFIX[i]; i++)
    if ((rc = cluster_key(key, tenant, id, SUFFIX[i])) == 0)
      rc = store_key_delete(r, key, NULL);
  if (rc == 0 && (rc = tenant_set_key(key, tenant)) == 0)
    rc = store_set_remove(r, key, id);
  if (rc == 0 && (rc = tag_set_key(key, tag)) == 0 &&
      (rc = key_of(k2, "%s:%s", tenant, id)) == 0)
    rc = store_set_remove(r, key, k2);
  if (rc == 0)
    rc = store__redis_integer(store_redis_cmd(r, "HDEL abaco:cluster:ids %s", id), "HDEL",
                              "abaco:cluster:ids", NULL);
  return rc;
}

int cluster_ids(store_redis_t *r, const char *tenant, json_t **out) {
  char key[KEY_MAX];
  *out = NULL;
  int rc = tenant_set_key(key, tenant);
  return rc ? rc : store_set_members(r, key, out);
}

int cluster_of_tag(store_redis_t *r, const char *tag, json_t **out) {
  char key[KEY_MAX];
  *out = NULL;
  int rc = tag_set_key(key, tag);
  return rc ? rc : store_set_members(r, key, out);
}

/* ---- items ---- */

static int item_key(char *key, const char *tenant, const char *id, const char *kind) {
  if (!kind_ok(kind))
    return ACTOR_EINVAL;
  char suffix[32];
  snprintf(suffix, sizeof(suffix), ":%s", kind);
  return cluster_key(key, tenant, id, suffix);
}

int cluster_item_put(store_redis_t *r, const char *tenant, const char *id, const char *kind,
                     const char *item_id, const json_t *v) {
  char key[KEY_MAX];
  int rc = item_key(key, tenant, id, kind);
  if (rc != 0)
    return rc;
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL)
    return ACTOR_ENOMEM;
  rc = store_hash_set(r, key, item_id, text, strlen(text));
  free(text);
  return rc;
}

int cluster_item_get(store_redis_t *r, const char *tenant, const char *id, const char *kind,
                     const char *item_id, json_t **out) {
  char key[KEY_MAX];
  char *text = NULL;
  *out = NULL;
  int rc = item_key(key, tenant, id, kind);
  if (rc == 0)
    rc = store_hash_get(r, key, item_id, &text);
  if (rc == 0 && (*out = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL)
    rc = ACTOR_ESTORE;
  free(text);
  return rc;
}

int cluster_item_all(store_redis_t *r, const char *tenant, const char *id, const char *kind,
                     json_t **out) {
  char key[KEY_MAX];
  json_t *raw = NULL;
  *out = NULL;
  int rc = item_key(key, tenant, id, kind);
  if (rc == 0)
    rc = store_hash_get_all(r, key, &raw);
  if (rc != 0)
    return rc;
  json_t *obj = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(raw, k, v) {
    json_t *parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
    if (parsed && obj)
      json_object_set_new(obj, k, parsed);
    else
      json_decref(parsed); /* an unreadable item is left out */
  }
  json_decref(raw);
  if (obj == NULL)
    return ACTOR_ENOMEM;
  *out = obj;
  return 0;
}

int cluster_item_del(store_redis_t *r, const char *tenant, const char *id, const char *kind,
                     const char *item_id) {
  char key[KEY_MAX];
  int rc = item_key(key, tenant, id, kind);
  return rc ? rc
            : store__redis_integer(store_redis_cmd(r, "HDEL %s %s", key, item_id), "HDEL", key,
                                   NULL);
}

/* ---- samples ---- */

static int samples_key(char *key, const char *tenant, const char *id, const char *counter) {
  char suffix[160];
  if (snprintf(suffix, sizeof(suffix), ":samples:%s", counter) >= (int)sizeof(suffix))
    return ACTOR_ETOOBIG;
  return cluster_key(key, tenant, id, suffix);
}

int cluster_sample_add(store_redis_t *r, const char *tenant, const char *id, const char *counter,
                       int64_t t_ms, double value, size_t keep) {
  char key[KEY_MAX], text[96];
  if (!isfinite(value))
    return ACTOR_EINVAL;
  if (keep < 1)
    keep = 1;
  if (keep > CLUSTER_HISTORY_MAX)
    keep = CLUSTER_HISTORY_MAX;
  int rc = samples_key(key, tenant, id, counter);
  snprintf(text, sizeof(text), "{\"t\":%lld,\"v\":%.17g}", (long long)t_ms, value);
  return rc ? rc : store_list_push_capped(r, key, text, keep);
}

/* The texts of the list at key (at most max) made into an array by
 * `each`: 0 with *item NULL leaves a text out; another error fails the
 * whole (after the rest were read). */
typedef int (*list_item_fn)(store_redis_t *r, const char *tenant, const char *text,
                            json_t **item);

static int list_collect(store_redis_t *r, const char *key, size_t max, const char *tenant,
                        list_item_fn each, json_t **out) {
  json_t *texts = NULL;
  *out = NULL;
  int rc = store_list_range(r, key, max, &texts);
  if (rc != 0)
    return rc;
  json_t *arr = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(texts, i, v) {
    json_t *item = NULL;
    int rr = each(r, tenant, json_string_value(v), &item);
    if (rr == 0 && item && arr) {
      json_array_append_new(arr, item);
    } else {
      json_decref(item);
      if (rr != 0 && rc == 0)
        rc = rr;
    }
  }
  json_decref(texts);
  if (rc == 0 && arr == NULL)
    rc = ACTOR_ENOMEM;
  if (rc != 0) {
    json_decref(arr);
    return rc;
  }
  *out = arr;
  return 0;
}

/* A sample's text to the sample ({"t","v"}); one without a number v is left out. */
static int sample_item(store_redis_t *r, const char *tenant, const char *text, json_t **item) {
  (void)r;
  (void)tenant;
  json_t *s = json_loads(text, 0, NULL);
  if (s && json_is_number(json_object_get(s, "v")))
    *item = s;
  else
    json_decref(s);
  return 0;
}

int cluster_samples(store_redis_t *r, const char *tenant, const char *id, const char *counter,
                    size_t max, json_t **out) {
  char key[KEY_MAX];
  *out = NULL;
  int rc = samples_key(key, tenant, id, counter);
  return rc ? rc : list_collect(r, key, max, NULL, sample_item, out);
}

int cluster_samples_drop(store_redis_t *r, const char *tenant, const char *id,
                         const char *counter) {
  char key[KEY_MAX];
  int rc = samples_key(key, tenant, id, counter);
  return rc ? rc : store_key_delete(r, key, NULL);
}

/* ---- runs ---- */

int cluster_run_create(store_redis_t *r, const json_t *obj) {
  const char *id = json_string_value(json_object_get(obj, "id"));
  const char *tenant = json_string_value(json_object_get(obj, "tenant"));
  const char *cluster = json_string_value(json_object_get(obj, "cluster"));
  const char *tag = json_string_value(json_object_get(obj, "tag"));
  if (!id || !tenant || !cluster || !tag)
    return ACTOR_EINVAL;
  char key[KEY_MAX], pending[KEY_MAX], member[KEY_MAX], list[KEY_MAX];
  int rc = run_key(key, tenant, id);
  if (rc == 0)
    rc = pending_key(pending, tag);
  if (rc == 0)
    rc = key_of(member, "%s:%s:%s", tenant, cluster, id);
  if (rc == 0)
    rc = cluster_key(list, tenant, cluster, ":runs");
  if (rc == 0)
    rc = store_record_put(r, key, obj);
  if (rc == 0)
    rc = store_set_add(r, pending, member, NULL);
  /* the id the cap is about to drop: its record goes with it (not while
   * the run is still pending), so run records do not pile up forever */
  json_t *ids = NULL;
  if (rc == 0)
    rc = store_list_range(r, list, CLUSTER_RUNS_KEPT, &ids);
  if (rc == 0)
    rc = store_list_push_capped(r, list, id, CLUSTER_RUNS_KEPT);
  const char *old = json_array_size(ids) >= CLUSTER_RUNS_KEPT
                        ? json_string_value(json_array_get(ids, CLUSTER_RUNS_KEPT - 1))
                        : NULL;
  long long busy = 0;
  if (rc == 0 && old != NULL && strcmp(old, id) != 0 &&
      (rc = key_of(member, "%s:%s:%s", tenant, cluster, old)) == 0 &&
      (rc = store__redis_integer(store_redis_cmd(r, "SISMEMBER %s %s", pending, member),
                                 "SISMEMBER", pending, &busy)) == 0 &&
      busy == 0 && (rc = run_key(key, tenant, old)) == 0)
    rc = store_key_delete(r, key, NULL);
  json_decref(ids);
  return rc;
}

int cluster_run_get(store_redis_t *r, const char *tenant, const char *run_id, json_t **out) {
  char key[KEY_MAX];
  *out = NULL;
  int rc = run_key(key, tenant, run_id);
  return rc ? rc : store_record_get(r, key, out);
}

int cluster_run_update(store_redis_t *r, const char *tenant, const char *run_id,
                       const json_t *fields) {
  char key[KEY_MAX];
  int rc = run_key(key, tenant, run_id);
  return rc ? rc : store_record_update(r, key, fields);
}

int cluster_runs_pending(store_redis_t *r, const char *tag, json_t **out) {
  char key[KEY_MAX];
  *out = NULL;
  int rc = pending_key(key, tag);
  return rc ? rc : store_set_members(r, key, out);
}

int cluster_run_done(store_redis_t *r, const char *tag, const char *tenant, const char *cluster,
                     const char *run_id) {
  char key[KEY_MAX], member[KEY_MAX];
  int rc = pending_key(key, tag);
  if (rc == 0)
    rc = key_of(member, "%s:%s:%s", tenant, cluster, run_id);
  return rc ? rc : store_set_remove(r, key, member);
}

/* A run id to its record; one whose record is gone is left out. */
static int run_item(store_redis_t *r, const char *tenant, const char *run_id, json_t **item) {
  int rc = cluster_run_get(r, tenant, run_id, item);
  return rc == ACTOR_ENOTFOUND ? 0 : rc;
}

int cluster_runs_recent(store_redis_t *r, const char *tenant, const char *id, size_t max,
                        json_t **out) {
  char list[KEY_MAX];
  *out = NULL;
  int rc = cluster_key(list, tenant, id, ":runs");
  return rc ? rc : list_collect(r, list, max, tenant, run_item, out);
}

/* ---- comparisons ---- */

bool cluster_comparison_valid(const char *cmp) {
  return cmp && (strcmp(cmp, ">") == 0 || strcmp(cmp, ">=") == 0 || strcmp(cmp, "<") == 0 ||
                 strcmp(cmp, "<=") == 0);
}

bool cluster_beyond(double value, const char *cmp, double threshold) {
  if (!cmp)
    return false;
  if (strcmp(cmp, ">") == 0)
    return value > threshold;
  if (strcmp(cmp, ">=") == 0)
    return value >= threshold;
  if (strcmp(cmp, "<") == 0)
    return value < threshold;
  if (strcmp(cmp, "<=") == 0)
    return value <= threshold;
  return false;
}
