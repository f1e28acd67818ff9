/* The clusters' triggers, decided purely (updater.h, docs/clusters.md
 * "Evaluation"): samples + definitions + state + now -> which triggers
 * fire and the state each one shows. No I/O; unit-tested in
 * tests/unit/test_updater_cluster_plan.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cluster.h"
#include "actor/json.h"
#include "actor/timefmt.h"
#include "updater.h"

#define VALUES_KEPT 20 /* samples of each counter copied into a run's inputs */

const char *upd_cluster_direction(const json_t *trigger) {
  bool out = false, in = false;
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(trigger, "actions"), i, a) {
    const char *t = json_is_string(a) ? json_string_value(a) : actor_json_str(a, "type", "");
    out = out || strcmp(t, "deploy_node") == 0;
    in = in || strcmp(t, "remove_node") == 0;
  }
  return out ? "out" : in ? "in" : "other";
}

static double num(const json_t *obj, const char *key, double def) {
  json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : def;
}

static int64_t sample_t(const json_t *s) { return (int64_t)actor_json_int(s, "t", 0); }

/* Whether one counter holds; *since: since when (ms), when it does. */
static bool counter_holds(const json_t *counter, const json_t *trigger, int64_t now_ms,
                          int64_t *since) {
  const json_t *samples = json_object_get(counter, "samples");
  const char *cmp = actor_json_str(counter, "comparison", "");
  double threshold = num(counter, "threshold", 0);
  int64_t window = (int64_t)(num(trigger, "timing", 0) * 60000.0);
  long long n = actor_json_int(trigger, "samples", 0);
  size_t total = json_array_size(samples);
  *since = 0;
  if (total == 0)
    return false;
  if (n > 0) { /* M of the newest N (of the last `timing` minutes, when given) */
    long long m = actor_json_int(trigger, "required", n), seen = 0, beyond = 0;
    for (size_t i = 0; i < total && seen < n; i++) {
      const json_t *s = json_array_get(samples, i);
      if (window > 0 && sample_t(s) <= now_ms - window)
        break;
      seen++;
      if (cluster_beyond(num(s, "v", 0), cmp, threshold))
        beyond++;
      *since = sample_t(s);
    }
    return seen == n && beyond >= m;
  }
  /* all of them, without a break, for `timing` minutes */
  const json_t *newest = json_array_get(samples, 0);
  if (window > 0 && sample_t(newest) < now_ms - window)
    return false; /* stale: the counter stopped reporting */
  size_t i = 0;
  while (i < total && cluster_beyond(num(json_array_get(samples, i), "v", 0), cmp, threshold))
    *since = sample_t(json_array_get(samples, i++));
  if (i == 0)
    return false;
  return *since <= now_ms - window;
}

/* Like counter_holds, but says since when the streak runs even before it
 * has lasted `timing` (for "holding since"). */
static int64_t streak_since(const json_t *counter) {
  const json_t *samples = json_object_get(counter, "samples");
  const char *cmp = actor_json_str(counter, "comparison", "");
  double threshold = num(counter, "threshold", 0);
  int64_t since = 0;
  for (size_t i = 0; i < json_array_size(samples); i++) {
    const json_t *s = json_array_get(samples, i);
    if (!cluster_beyond(num(s, "v", 0), cmp, threshold))
      break;
    since = sample_t(s);
  }
  return since;
}

static json_t *values_of(const json_t *counter, const char *cid) {
  const json_t *samples = json_object_get(counter, "samples");
  json_t *kept = json_array();
  for (size_t i = 0; kept && i < json_array_size(samples) && i < VALUES_KEPT; i++)
    json_array_append(kept, json_array_get(samples, i));
  json_t *first = json_array_get(samples, 0);
  return json_pack("{s:s, s:s, s:O, s:s, s:O, s:o}", "counter", cid, "name",
                   actor_json_str(counter, "name", ""), "threshold",
                   json_object_get(counter, "threshold") ? json_object_get(counter, "threshold")
                                                        : json_null(),
                   "comparison", actor_json_str(counter, "comparison", ""), "value",
                   first && json_object_get(first, "v") ? json_object_get(first, "v")
                                                         : json_null(),
                   "samples", kept ? kept : json_array());
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void set_time(json_t *st, const char *field, int64_t ms) {
  char key[64], text[ACTOR_TIME_MAX];
  if (ms <= 0) {
    json_object_set_new(st, field, json_null());
    snprintf(key, sizeof(key), "%s_ms", field);
    json_object_set_new(st, key, json_null());
    return;
  }
  actor_time_format(ms, text);
  json_object_set_new(st, field, json_string(text));
  snprintf(key, sizeof(key), "%s_ms", field);
  json_object_set_new(st, key, json_integer(ms));
}

json_t *upd_cluster_plan(const json_t *in, int64_t now_ms) {
  const json_t *cluster = json_object_get(in, "cluster");
  const json_t *counters = json_object_get(in, "counters");
  const json_t *triggers = json_object_get(in, "triggers");
  const json_t *states = json_object_get(in, "states");
  long long nodes = actor_json_int(in, "nodes", 0);
  long long min_nodes = actor_json_int(cluster, "min_nodes", 0);
  long long max_nodes = actor_json_int(cluster, "max_nodes", 0);
  int64_t last_out = (int64_t)actor_json_int(cluster, "last_scale_out_ms", 0);
  int64_t delay = (int64_t)(num(cluster, "scale_in_delay", 0) * 60000.0);
  json_t *out = json_array();
  size_t nt = json_object_size(triggers);
  const char **ids = nt ? calloc(nt, sizeof(*ids)) : NULL;
  if (out == NULL || (nt && ids == NULL)) {
    free(ids);
    json_decref(out);
    return NULL;
  }
  size_t k = 0;
  const char *tid;
  json_t *trig;
  json_object_foreach((json_t *)triggers, tid, trig) ids[k++] = tid;
  qsort(ids, nt, sizeof(*ids), cmp_keys);

  /* first pass: who holds; second: who fires (scale-out before scale-in) */
  json_t *decisions = json_object();
  bool out_fired = false, in_fired = false;
  for (int pass = 0; decisions && pass < 3; pass++) {
    const char *want = pass == 0 ? "out" : pass == 1 ? "in" : "other";
    for (size_t i = 0; i < nt; i++) {
      trig = json_object_get(triggers, ids[i]);
      const char *dir = upd_cluster_direction(trig);
      if (strcmp(dir, want) != 0)
        continue;
      const json_t *st = json_object_get(states, ids[i]);
      json_t *values = json_array();
      json_t *state = json_object();
      bool holds = json_array_size(json_object_get(trig, "counters")) > 0;
      int64_t since = 0;
      size_t j;
      json_t *cidv;
      json_array_foreach(json_object_get(trig, "counters"), j, cidv) {
        const char *cid = json_string_value(cidv);
        const json_t *c = cid ? json_object_get(counters, cid) : NULL;
        int64_t s = 0;
        bool h = c != NULL && counter_holds(c, trig, now_ms, &s);
        if (c && !h)
          s = actor_json_int(trig, "samples", 0) <= 0 ? streak_since(c) : 0;
        if (!h)
          holds = false;
        if (c == NULL || s == 0)
          since = -1;
        else if (since >= 0 && s > since)
          since = s;
        if (c && values)
          json_array_append_new(values, values_of(c, cid));
      }
      int64_t last_fired = (int64_t)actor_json_int(st, "last_fired_ms", 0);
      int64_t cool_until =
          last_fired > 0 ? last_fired + (int64_t)(num(trig, "cooldown", 0) * 60000.0) : 0;
      const char *blocked = NULL;
      bool fire = false;
      if (holds) {
        if (cool_until > now_ms)
          blocked = "cooling down";
        else if (strcmp(dir, "out") == 0 && nodes >= max_nodes)
          blocked = "at max_nodes";
        else if (strcmp(dir, "in") == 0 && nodes <= min_nodes)
          blocked = "at min_nodes";
        else if (strcmp(dir, "in") == 0 && out_fired)
          blocked = "a scale-out fired (scale-out wins)";
        else if (strcmp(dir, "in") == 0 && last_out > 0 && now_ms < last_out + delay)
          blocked = "scale-in delay after a scale-out";
        else if ((strcmp(dir, "out") == 0 && out_fired) || (strcmp(dir, "in") == 0 && in_fired))
          blocked = "another trigger of the cluster fired this tick";
        else
          fire = true;
      }
      if (fire && strcmp(dir, "out") == 0)
        out_fired = true;
      if (fire && strcmp(dir, "in") == 0)
        in_fired = true;
      if (state == NULL || values == NULL) {
        json_decref(state);
        json_decref(values);
        json_decref(decisions);
        decisions = NULL;
        break;
      }
      set_time(state, "holding_since", since > 0 ? since : 0);
      set_time(state, "evaluated", now_ms);
      json_object_set_new(state, "blocked", blocked ? json_string(blocked) : json_null());
      if (fire) {
        set_time(state, "last_fired", now_ms);
        int64_t until = now_ms + (int64_t)(num(trig, "cooldown", 0) * 60000.0);
        set_time(state, "cooling_down_until", until > now_ms ? until : 0);
      }
      json_object_set_new(decisions, ids[i],
                          json_pack("{s:s, s:s, s:b, s:o, s:o}", "trigger", ids[i], "direction",
                                    dir, "fire", fire, "state", state, "values", values));
    }
  }
  for (size_t i = 0; decisions && i < nt; i++) {
    json_t *d = json_object_get(decisions, ids[i]);
    if (d)
      json_array_append(out, d);
  }
  free(ids);
  if (decisions == NULL) {
    json_decref(out);
    return NULL;
  }
  json_decref(decisions);
  return out;
}
