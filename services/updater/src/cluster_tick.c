/* One evaluation of the tag's clusters (updater.h, docs/clusters.md
 * "Evaluation"), run by the updater's pass while it holds the reconciler's
 * lease: resume unfinished runs, then for each cluster sample its
 * `metric` counters, read every counter's samples, the triggers and their
 * state, plan (cluster_plan.c), record and run what fires
 * (cluster_run.c), and write the other triggers' state.
 *
 * `metric` counters read the api's /metrics ([clusters] metrics_url),
 * once per tick for all clusters: the value is the sum of the series of
 * that name whose labels include the counter's labels. */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cluster.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "updater.h"

#define METRICS_MAX (8u << 20) /* bytes of /metrics read at most */

const char *upd_metrics_url = NULL; /* set by main.c from [clusters] metrics_url */

typedef struct {
  char *data;
  size_t len;
} mbuf_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  mbuf_t *b = ud;
  size_t add = size * n;
  if (b->len + add > METRICS_MAX)
    return 0;
  char *grown = realloc(b->data, b->len + add + 1);
  if (grown == NULL)
    return 0;
  memcpy(grown + b->len, p, add);
  b->data = grown;
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

/* GET of the metrics text (malloc'd), or NULL (logged). */
static char *metrics_fetch(const char *url) {
  CURL *h = curl_easy_init();
  mbuf_t b = {0};
  if (h == NULL)
    return NULL;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK || status != 200) {
    LOG_WARN("updater", "metric counters: %s: %s (HTTP %ld)", url, curl_easy_strerror(rc),
             status);
    free(b.data);
    return NULL;
  }
  return b.data;
}

/* Whether the label text `{a="x",b="y"}` (without braces, may be empty)
 * holds each label of want. */
static bool labels_match(const char *text, size_t len, const json_t *want) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)want, k, v) {
    char needle[400];
    snprintf(needle, sizeof(needle), "%s=\"%s\"", k, json_string_value(v) ? json_string_value(v) : "");
    size_t nl = strlen(needle);
    bool found = false;
    for (size_t i = 0; !found && i + nl <= len; i++)
      found = strncmp(text + i, needle, nl) == 0 && (i == 0 || text[i - 1] == ',') &&
              (i + nl == len || text[i + nl] == ',');
    if (!found)
      return false;
  }
  return true;
}

int upd_metric_value(const char *text, const char *series, const json_t *labels, double *out) {
  size_t sl = strlen(series);
  bool any = false;
  double sum = 0;
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > sl && line[0] != '#' && strncmp(line, series, sl) == 0 &&
        (line[sl] == ' ' || line[sl] == '{')) {
      const char *lb = line + sl, *le = lb;
      size_t ll = 0;
      if (*lb == '{') {
        le = memchr(lb, '}', len - sl);
        if (le == NULL)
          goto next;
        ll = (size_t)(le - lb - 1);
        lb++;
        le++;
      }
      if (labels_match(lb, ll, labels)) {
        char num[64];
        size_t vl = len - (size_t)(le - line);
        snprintf(num, sizeof(num), "%.*s", (int)(vl < 63 ? vl : 63), le);
        char *stop = NULL;
        double v = strtod(num, &stop);
        if (stop != num && isfinite(v)) {
          sum += v;
          any = true;
        }
      }
    }
  next:
    line = end ? end + 1 : NULL;
  }
  *out = sum;
  return any ? 0 : ACTOR_ENOTFOUND;
}

/* Samples the cluster's metric counters from text (fetched once a tick). */
static void sample_metrics(upd_cluster_ctx_t *x, const char *tenant, const char *cid,
                           json_t *counters, char **text, bool *fetched, int64_t now_ms) {
  const char *k;
  json_t *c;
  json_object_foreach(counters, k, c) {
    const json_t *src = json_object_get(c, "source");
    if (strcmp(actor_json_str(src, "kind", ""), "metric") != 0)
      continue;
    if (!*fetched) {
      *fetched = true;
      *text = upd_metrics_url && *upd_metrics_url ? metrics_fetch(upd_metrics_url) : NULL;
    }
    double v = 0;
    if (*text == NULL ||
        upd_metric_value(*text, actor_json_str(src, "series", ""), json_object_get(src, "labels"),
                         &v) != 0)
      continue; /* no sample: the counter does not hold */
    int rc = cluster_sample_add(x->redis, tenant, cid, k, now_ms, v,
                                (size_t)actor_json_int(c, "history", CLUSTER_HISTORY_DEFAULT));
    if (rc != 0)
      LOG_WARN("updater", "cluster %s:%s counter %s: sample not stored: %s", tenant, cid, k,
               actor_strerror(rc));
  }
}

/* One cluster: 0, or a store error (logged by the caller). */
static int cluster_one(upd_cluster_ctx_t *x, const char *tenant, const char *cid, char **mtext,
                       bool *mfetched, upd_cluster_report_t *rep) {
  json_t *cluster = NULL, *counters = NULL, *triggers = NULL, *states = NULL, *in = NULL,
         *plan = NULL;
  int64_t t = actor_time_mono_ms();
  int64_t now_ms = actor_time_now_ms();
  int rc = cluster_get(x->redis, tenant, cid, &cluster);
  if (rc == 0)
    rc = cluster_item_all(x->redis, tenant, cid, "triggers", &triggers);
  if (rc != 0 || json_object_size(triggers) == 0)
    goto out; /* nothing to evaluate */
  if ((rc = cluster_item_all(x->redis, tenant, cid, "counters", &counters)) != 0 ||
      (rc = cluster_item_all(x->redis, tenant, cid, "tstate", &states)) != 0)
    goto out;
  sample_metrics(x, tenant, cid, counters, mtext, mfetched, now_ms);
  const char *k;
  json_t *c;
  json_object_foreach(counters, k, c) {
    if (strcmp(actor_json_str(json_object_get(c, "source"), "kind", ""), "actor") == 0)
      upd_actor_counter_tick(x, tenant, cid, k, c, now_ms);
  }
  json_object_foreach(counters, k, c) {
    json_t *samples = NULL;
    if ((rc = cluster_samples(x->redis, tenant, cid, k,
                              (size_t)actor_json_int(c, "history", CLUSTER_HISTORY_DEFAULT),
                              &samples)) != 0)
      goto out;
    json_object_set_new(c, "samples", samples);
    rep->counters++;
  }
  long nodes = upd_cluster_live_nodes(x, tenant, cid);
  if (nodes < 0) {
    rc = ACTOR_ESTORE;
    goto out;
  }
  in = json_pack("{s:O, s:I, s:O, s:O, s:O}", "cluster", cluster, "nodes", (json_int_t)nodes,
                 "counters", counters, "triggers", triggers, "states", states);
  rep->read_ms += actor_time_mono_ms() - t;
  t = actor_time_mono_ms();
  plan = in ? upd_cluster_plan(in, now_ms) : NULL;
  rep->plan_ms += actor_time_mono_ms() - t;
  if (plan == NULL) {
    rc = ACTOR_ENOMEM;
    goto out;
  }
  t = actor_time_mono_ms();
  size_t i;
  json_t *d;
  json_array_foreach(plan, i, d) {
    const char *tid = actor_json_str(d, "trigger", "");
    const json_t *trig = json_object_get(triggers, tid);
    json_t *st = json_deep_copy(json_object_get(states, tid));
    if (st == NULL)
      st = json_object();
    if (st == NULL) {
      rc = ACTOR_ENOMEM;
      break;
    }
    json_object_update(st, json_object_get(d, "state"));
    if (json_is_true(json_object_get(d, "fire"))) {
      char run_id[64];
      json_object_set_new(d, "nodes", json_integer(nodes));
      rc = upd_cluster_run_record(x, cluster, trig, d, st, run_id);
      if (rc == 0) {
        rep->fired++;
        LOG_INFO("updater", "cluster %s:%s trigger %s (%s) fired: run %s", tenant, cid, tid,
                 actor_json_str(trig, "name", ""), run_id);
        rc = upd_cluster_run_execute(x, tenant, run_id);
        rep->runs++;
        if (rc != 0)
          LOG_WARN("updater", "cluster %s:%s run %s: %s; resumed next tick", tenant, cid, run_id,
                   actor_strerror(rc));
        rc = 0;
      }
    } else {
      rc = cluster_item_put(x->redis, tenant, cid, "tstate", tid, st);
    }
    json_decref(st);
    if (rc != 0)
      break;
  }
  rep->apply_ms += actor_time_mono_ms() - t;
out:
  json_decref(plan);
  json_decref(in);
  json_decref(states);
  json_decref(triggers);
  json_decref(counters);
  json_decref(cluster);
  return rc == ACTOR_ENOTFOUND ? 0 : rc;
}

void upd_clusters_tick(upd_cluster_ctx_t *x, upd_cluster_report_t *rep) {
  memset(rep, 0, sizeof(*rep));
  upd_cluster_runs_resume(x);
  json_t *members = NULL;
  int rc = cluster_of_tag(x->redis, x->settings->tag, &members);
  if (rc != 0) {
    LOG_WARN("updater", "clusters of tag %s not read: %s", x->settings->tag, actor_strerror(rc));
    return;
  }
  char *mtext = NULL;
  bool mfetched = false;
  size_t i;
  json_t *m;
  json_array_foreach(members, i, m) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", json_string_value(m) ? json_string_value(m) : "");
    char *colon = strrchr(buf, ':');
    if (colon == NULL)
      continue;
    *colon = '\0';
    rep->clusters++;
    rc = cluster_one(x, buf, colon + 1, &mtext, &mfetched, rep);
    if (rc != 0)
      LOG_WARN("updater", "cluster %s:%s not evaluated: %s", buf, colon + 1, actor_strerror(rc));
  }
  free(mtext);
  json_decref(members);
}
