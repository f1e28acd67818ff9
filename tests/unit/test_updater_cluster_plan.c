/* The clusters' trigger planner (upd_cluster_plan in
 * services/updater/src/cluster_plan.c): a threshold held for the timing
 * fires, not before; flapping never fires; M of N; a stale counter does
 * not hold; cooldown; max/min bounds; scale-out wins over scale-in; the
 * scale-in delay after a scale-out; a trigger without counters never fires
 * by itself; the Prometheus reader of metric counters; the number an actor
 * counter takes from its execution's logs. No I/O. */
#include <jansson.h>
#include <string.h>

#include "actor/errors.h"
#include "test.h"
#include "updater.h"

#define NOW 1800000000000LL
#define SEC 1000LL

/* samples: values at NOW - (n-1-i)*step seconds, given oldest first. */
static json_t *series(const double *v, size_t n, long step) {
  json_t *a = json_array();
  for (size_t i = n; i-- > 0;)
    json_array_append_new(a, json_pack("{s:I, s:f}", "t",
                                       (json_int_t)(NOW - (long long)(n - 1 - i) * step * SEC),
                                       "v", v[i]));
  return a;
}

static json_t *counter(const char *id, const char *cmp, double threshold, json_t *samples) {
  return json_pack("{s:s, s:s, s:s, s:f, s:o}", "id", id, "name", id, "comparison", cmp,
                   "threshold", threshold, "samples", samples);
}

static json_t *trigger(const char *id, const char *cid, const char *action, double timing_min,
                       double cooldown_min) {
  return json_pack("{s:s, s:s, s:[s], s:f, s:f, s:[s], s:n, s:n}", "id", id, "name", id,
                   "counters", cid, "timing", timing_min, "cooldown", cooldown_min, "actions",
                   action, "samples", "required");
}

static json_t *input(long nodes, long min, long max, json_t *counters, json_t *triggers,
                     json_t *states) {
  return json_pack("{s:{s:s, s:s, s:i, s:i, s:f}, s:i, s:o, s:o, s:o}", "cluster", "id", "C1",
                   "tenant", "T", "min_nodes", (int)min, "max_nodes", (int)max,
                   "scale_in_delay", 1.0, "nodes", (int)nodes, "counters", counters,
                   "triggers", triggers, "states", states ? states : json_object());
}

/* Whether trigger tid fires; its decision in *d (borrowed from *plan). */
static bool fires(json_t *in, const char *tid, json_t **plan, json_t **d, int64_t now) {
  *plan = upd_cluster_plan(in, now);
  ASSERT_TRUE(*plan != NULL);
  size_t i;
  json_t *x;
  json_array_foreach(*plan, i, x) {
    if (strcmp(json_string_value(json_object_get(x, "trigger")), tid) == 0) {
      *d = x;
      return json_is_true(json_object_get(x, "fire"));
    }
  }
  ASSERT_TRUE(0 && "trigger not in plan");
  return false;
}

static const char *blocked(json_t *d) {
  return json_string_value(json_object_get(json_object_get(d, "state"), "blocked"));
}

static void test_held_for_timing_fires(void) {
  /* above 10 for the last 6 samples, 1 s apart; timing 5 s */
  double v[] = {3, 12, 12, 12, 12, 12, 12};
  json_t *in = input(1, 0, 3, json_pack("{s:o}", "c", counter("c", ">", 10, series(v, 7, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "deploy_node", 5.0 / 60, 1)), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(fires(in, "t", &plan, &d, NOW));
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(d, "state"),
                                                   "holding_since_ms")),
                NOW - 5 * SEC);
  ASSERT_EQ_STR(json_string_value(json_object_get(d, "direction")), "out");
  /* the run's inputs: the counter's values */
  json_t *vals = json_object_get(d, "values");
  ASSERT_EQ_INT(json_array_size(vals), 1);
  ASSERT_TRUE(json_number_value(json_object_get(json_array_get(vals, 0), "value")) == 12);
  json_decref(plan);
  json_decref(in);
}

static void test_not_yet_held(void) {
  double v[] = {3, 3, 3, 12, 12, 12};
  json_t *in = input(1, 0, 3, json_pack("{s:o}", "c", counter("c", ">", 10, series(v, 6, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "deploy_node", 5.0 / 60, 1)), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  /* holding since the first sample above it, not yet for 5 s */
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(d, "state"),
                                                   "holding_since_ms")),
                NOW - 2 * SEC);
  json_decref(plan);
  json_decref(in);
}

static void test_flapping_never_fires(void) {
  double v[] = {12, 3, 12, 3, 12, 3, 12, 3, 12, 3, 12};
  json_t *in = input(1, 0, 3, json_pack("{s:o}", "c", counter("c", ">", 10, series(v, 11, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "deploy_node", 5.0 / 60, 1)), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  json_decref(plan);
  json_decref(in);
}

static void test_m_of_n(void) {
  /* 3 of the last 4 above: fires with required 3, not with 4 */
  double v[] = {3, 12, 3, 12, 12};
  json_t *t = trigger("t", "c", "deploy_node", 1, 1);
  json_object_set_new(t, "samples", json_integer(4));
  json_object_set_new(t, "required", json_integer(3));
  json_t *in = input(1, 0, 3, json_pack("{s:o}", "c", counter("c", ">=", 12, series(v, 5, 1))),
                     json_pack("{s:o}", "t", t), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(fires(in, "t", &plan, &d, NOW));
  json_decref(plan);
  json_object_set_new(t, "required", json_integer(4));
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  json_decref(plan);
  /* fewer than N samples in the window: not yet */
  json_object_set_new(t, "samples", json_integer(10));
  json_object_set_new(t, "required", json_integer(1));
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  json_decref(plan);
  json_decref(in);
}

static void test_stale_counter_does_not_hold(void) {
  double v[] = {12, 12, 12, 12, 12, 12, 12};
  json_t *in = input(1, 0, 3, json_pack("{s:o}", "c", counter("c", ">", 10, series(v, 7, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "deploy_node", 5.0 / 60, 1)), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW + 60 * SEC)); /* a minute without a sample */
  json_decref(plan);
  json_decref(in);
}

static void test_cooldown(void) {
  double v[] = {12, 12, 12, 12, 12, 12, 12};
  json_t *states = json_pack("{s:{s:I}}", "t", "last_fired_ms", (json_int_t)(NOW - 30 * SEC));
  json_t *in = input(1, 0, 3, json_pack("{s:o}", "c", counter("c", ">", 10, series(v, 7, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "deploy_node", 5.0 / 60, 1)),
                     states);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW)); /* fired 30 s ago, cooldown 1 min */
  ASSERT_EQ_STR(blocked(d), "cooling down");
  json_decref(plan);
  json_object_set_new(json_object_get(json_object_get(in, "states"), "t"), "last_fired_ms",
                      json_integer(NOW - 61 * SEC));
  ASSERT_TRUE(fires(in, "t", &plan, &d, NOW));
  /* firing starts the next cooldown */
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(d, "state"),
                                                   "cooling_down_until_ms")),
                NOW + 60 * SEC);
  json_decref(plan);
  json_decref(in);
}

static void test_bounds(void) {
  double hi[] = {12, 12, 12, 12, 12, 12, 12};
  json_t *in = input(3, 1, 3, json_pack("{s:o}", "c", counter("c", ">", 10, series(hi, 7, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "deploy_node", 5.0 / 60, 1)), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  ASSERT_EQ_STR(blocked(d), "at max_nodes");
  json_decref(plan);
  json_decref(in);
  double lo[] = {1, 1, 1, 1, 1, 1, 1};
  in = input(1, 1, 3, json_pack("{s:o}", "c", counter("c", "<", 2, series(lo, 7, 1))),
             json_pack("{s:o}", "t", trigger("t", "c", "remove_node", 5.0 / 60, 1)), NULL);
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  ASSERT_EQ_STR(blocked(d), "at min_nodes");
  ASSERT_EQ_STR(json_string_value(json_object_get(d, "direction")), "in");
  json_decref(plan);
  json_decref(in);
}

static void test_scale_out_wins(void) {
  /* both hold in the same tick: only the scale-out fires; "a" sorts first
   * but scale-out triggers are decided first */
  double v[] = {12, 12, 12, 12, 12, 12, 12};
  json_t *in = input(2, 0, 5,
                     json_pack("{s:o, s:o}", "hi", counter("hi", ">", 10, series(v, 7, 1)), "lo",
                               counter("lo", ">", 1, series(v, 7, 1))),
                     json_pack("{s:o, s:o}", "a", trigger("a", "lo", "remove_node", 5.0 / 60, 1),
                               "b", trigger("b", "hi", "deploy_node", 5.0 / 60, 1)),
                     NULL);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "a", &plan, &d, NOW));
  ASSERT_EQ_STR(blocked(d), "a scale-out fired (scale-out wins)");
  json_decref(plan);
  ASSERT_TRUE(fires(in, "b", &plan, &d, NOW));
  json_decref(plan);
  json_decref(in);
}

static void test_scale_in_delay(void) {
  double v[] = {1, 1, 1, 1, 1, 1, 1};
  json_t *in = input(3, 0, 5, json_pack("{s:o}", "c", counter("c", "<=", 1, series(v, 7, 1))),
                     json_pack("{s:o}", "t", trigger("t", "c", "remove_node", 5.0 / 60, 0)), NULL);
  /* the cluster scaled out 30 s ago; its scale_in_delay is 1 minute */
  json_object_set_new(json_object_get(in, "cluster"), "last_scale_out_ms",
                      json_integer(NOW - 30 * SEC));
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  ASSERT_EQ_STR(blocked(d), "scale-in delay after a scale-out");
  json_decref(plan);
  json_object_set_new(json_object_get(in, "cluster"), "last_scale_out_ms",
                      json_integer(NOW - 61 * SEC));
  ASSERT_TRUE(fires(in, "t", &plan, &d, NOW));
  json_decref(plan);
  json_decref(in);
}

static void test_no_counters_never_fires(void) {
  json_t *t = json_pack("{s:s, s:[], s:f, s:f, s:[s]}", "id", "t", "counters", "timing", 0.1,
                        "cooldown", 0.0, "actions", "deploy_node");
  json_t *in = input(0, 0, 3, json_object(), json_pack("{s:o}", "t", t), NULL);
  json_t *plan, *d;
  ASSERT_TRUE(!fires(in, "t", &plan, &d, NOW));
  json_decref(plan);
  json_decref(in);
}

static void test_metric_value(void) {
  const char *text = "# HELP abaco_x x\n# TYPE abaco_x gauge\n"
                     "abaco_x{actor=\"a1\",tenant=\"T\"} 4\n"
                     "abaco_x{actor=\"a2\",tenant=\"T\"} 3\n"
                     "abaco_xy 100\n"
                     "abaco_y 7.5\n";
  double v = 0;
  json_t *labels = json_pack("{s:s}", "actor", "a2");
  ASSERT_EQ_INT(upd_metric_value(text, "abaco_x", labels, &v), 0);
  ASSERT_TRUE(v == 3);
  ASSERT_EQ_INT(upd_metric_value(text, "abaco_x", NULL, &v), 0);
  ASSERT_TRUE(v == 7); /* the sum of the matching series */
  ASSERT_EQ_INT(upd_metric_value(text, "abaco_y", NULL, &v), 0);
  ASSERT_TRUE(v == 7.5);
  json_object_set_new(labels, "actor", json_string("a3"));
  ASSERT_EQ_INT(upd_metric_value(text, "abaco_x", labels, &v), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(upd_metric_value(text, "abaco_z", NULL, &v), ACTOR_ENOTFOUND);
  json_decref(labels);
}

static void test_number_in(void) {
  double v = 0;
  ASSERT_EQ_INT(upd_number_in("Contents of MSG: 42\nPATH=/bin\n", &v), 0);
  ASSERT_TRUE(v == 42);
  ASSERT_EQ_INT(upd_number_in("load -0.75 now", &v), 0);
  ASSERT_TRUE(v == -0.75);
  ASSERT_EQ_INT(upd_number_in("no number here", &v), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(upd_number_in("", &v), ACTOR_ENOTFOUND);
}

int main(void) {
  RUN_TEST(test_held_for_timing_fires);
  RUN_TEST(test_not_yet_held);
  RUN_TEST(test_flapping_never_fires);
  RUN_TEST(test_m_of_n);
  RUN_TEST(test_stale_counter_does_not_hold);
  RUN_TEST(test_cooldown);
  RUN_TEST(test_bounds);
  RUN_TEST(test_scale_out_wins);
  RUN_TEST(test_scale_in_delay);
  RUN_TEST(test_no_counters_never_fires);
  RUN_TEST(test_metric_value);
  RUN_TEST(test_number_in);
  TEST_EXIT();
}
