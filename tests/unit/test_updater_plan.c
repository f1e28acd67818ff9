/* The reconciler's planner (upd_plan in services/updater/src/plan.c): the
 * stale guard both ways, a console stop followed, terminated beating the
 * guard, adoption (tenant, owner, tags), gone marking then removal after
 * the grace, a failed listing planning nothing, the per-object back-off,
 * stacks polled first, nothing written when nothing changed, and the
 * events a change implies. No I/O: linked from updater_core. */
#include <jansson.h>
#include <limits.h>

#include "actor/errors.h"
#include "actor/timefmt.h"
#include "test.h"
#include "updater.h"

#define NOW 1800000000000LL /* 2027-01-15 */
#define SEC 1000LL

static upd_plan_opts_t opts(void) {
  upd_plan_opts_t o = {.tag = "T1",
                       .default_tenant = "DEV-DEVELOP",
                       .now_ms = NOW,
                       .stale_guard_ms = 300 * SEC,
                       .gone_grace_ms = 0};
  return o;
}

static json_t *ago(long s) {
  char t[ACTOR_TIME_MAX];
  actor_time_format(NOW - s * SEC, t);
  return json_string(t);
}

/* A record of tag T1 in tenant DEV-DEVELOP. */
static json_t *rec(const char *id, const char *ec2, const char *state, const char *desired) {
  json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "tenant", "DEV-DEVELOP", "tag",
                        "T1", "state", state, "desired_state", desired);
  json_object_set_new(r, "ec2_instance_id", ec2 ? json_string(ec2) : json_null());
  json_object_set_new(r, "observed_state", json_string(state));
  json_object_set_new(r, "private_ip", json_string("10.0.0.1"));
  json_object_set_new(r, "public_ip", json_null());
  json_object_set_new(r, "launch_time", json_string("2027-01-01T00:00:00.000Z"));
  json_object_set_new(r, "instance_type", json_string("t3.micro"));
  json_object_set_new(r, "availability_zone", json_string("us-east-1a"));
  json_object_set_new(r, "gone_since", json_null());
  json_object_set_new(r, "user_transition", json_null());
  return r;
}

/* An instance as aws_ec2_describe_instances lists it. */
static json_t *inst(const char *ec2, const char *state) {
  return json_pack("{s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:{s:s}, s:[s]}", "instance_id", ec2,
                   "state", state, "private_ip", "10.0.0.1", "launch_time",
                   "2027-01-01T00:00:00.000Z", "public_ip", "instance_type", "t3.micro",
                   "availability_zone", "us-east-1a", "tags", "LaunchedBy", "T1", "volumes",
                   "vol-1");
}

/* Plans listing (NULL: failed) against records, both consumed. */
static json_t *plan(json_t *listing, json_t *records, const upd_plan_opts_t *o) {
  json_t *steps = NULL;
  ASSERT_EQ_INT(upd_plan(listing, records, o, &steps), 0);
  ASSERT_TRUE(json_is_array(steps));
  json_decref(listing);
  json_decref(records);
  return steps;
}

static json_t *one(json_t *listing_item, json_t *record) {
  upd_plan_opts_t o = opts();
  return plan(listing_item ? json_pack("[o]", listing_item) : json_array(),
              record ? json_pack("[o]", record) : json_array(), &o);
}

static const char *op(const json_t *steps, size_t i) {
  return json_string_value(json_object_get(json_array_get(steps, i), "op"));
}

static const char *fld(const json_t *steps, size_t i, const char *key) {
  return json_string_value(
      json_object_get(json_object_get(json_array_get(steps, i), "fields"), key));
}

static const char *ev(const json_t *steps, size_t i) {
  return json_string_value(json_object_get(json_array_get(steps, i), "event"));
}

static void test_unchanged_writes_nothing(void) {
  json_t *s = one(inst("i-1", "running"), rec("a1", "i-1", "running", "running"));
  ASSERT_EQ_INT(json_array_size(s), 0);
  json_decref(s);
}

static void test_console_stop_is_followed(void) {
  /* no recent user action: the cloud is the truth, goal included */
  json_t *s = one(inst("i-1", "stopped"), rec("a1", "i-1", "running", "running"));
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REFRESH);
  ASSERT_EQ_STR(fld(s, 0, "state"), "stopped");
  ASSERT_EQ_STR(fld(s, 0, "observed_state"), "stopped");
  ASSERT_EQ_STR(fld(s, 0, "desired_state"), "stopped");
  ASSERT_TRUE(fld(s, 0, "observed") != NULL);
  ASSERT_EQ_STR(ev(s, 0), UPD_EVENT_STOPPED);
  json_decref(s);
  /* a transient state maps to its goal */
  s = one(inst("i-1", "stopping"), rec("a1", "i-1", "running", "running"));
  ASSERT_EQ_STR(fld(s, 0, "state"), "stopping");
  ASSERT_EQ_STR(fld(s, 0, "desired_state"), "stopped");
  ASSERT_TRUE(ev(s, 0) == NULL);
  json_decref(s);
}

static void test_stale_guard_keeps_user_transition(void) {
  /* the user stopped it 10 s ago; the listing still says running */
  json_t *r = rec("a1", "i-1", "stopping", "stopped");
  json_object_set_new(r, "user_transition", ago(10));
  json_t *s = one(inst("i-1", "running"), r);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(fld(s, 0, "observed_state"), "running");
  ASSERT_TRUE(json_object_get(json_object_get(json_array_get(s, 0), "fields"), "state") == NULL);
  ASSERT_TRUE(json_object_get(json_object_get(json_array_get(s, 0), "fields"),
                              "desired_state") == NULL);
  json_decref(s);
}

static void test_stale_guard_expires(void) {
  /* the same 301 s later: the cloud wins, and the goal follows it */
  json_t *r = rec("a1", "i-1", "stopping", "stopped");
  json_object_set_new(r, "user_transition", ago(301));
  json_object_set_new(r, "observed_state", json_string("running"));
  json_t *s = one(inst("i-1", "running"), r);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(fld(s, 0, "state"), "running");
  ASSERT_EQ_STR(fld(s, 0, "desired_state"), "running");
  json_decref(s);
}

static void test_goal_passes_the_guard(void) {
  json_t *r = rec("a1", "i-1", "stopping", "stopped");
  json_object_set_new(r, "user_transition", ago(10));
  json_t *s = one(inst("i-1", "stopped"), r);
  ASSERT_EQ_STR(fld(s, 0, "state"), "stopped");
  ASSERT_TRUE(fld(s, 0, "desired_state") == NULL);
  ASSERT_EQ_STR(ev(s, 0), UPD_EVENT_STOPPED);
  json_decref(s);
}

static void test_terminated_beats_the_guard(void) {
  json_t *r = rec("a1", "i-1", "pending", "running");
  json_object_set_new(r, "user_transition", ago(5));
  json_t *s = one(inst("i-1", "terminated"), r);
  ASSERT_EQ_STR(fld(s, 0, "state"), "terminated");
  ASSERT_EQ_STR(fld(s, 0, "desired_state"), "terminated");
  ASSERT_EQ_STR(ev(s, 0), UPD_EVENT_TERMINATED);
  json_decref(s);
}

static void test_ready_after_launch(void) {
  json_t *r = rec("a1", NULL, "launching", "running");
  json_object_set_new(r, "user_transition", ago(60));
  json_t *i = inst("i-9", "running");
  json_object_set_new(json_object_get(i, "tags"), "AbacoId", json_string("a1"));
  json_object_set_new(json_object_get(i, "tags"), "Tenant", json_string("dev-develop"));
  json_t *s = one(i, r);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REFRESH);
  ASSERT_EQ_STR(fld(s, 0, "ec2_instance_id"), "i-9");
  ASSERT_EQ_STR(fld(s, 0, "state"), "running");
  ASSERT_EQ_STR(ev(s, 0), UPD_EVENT_READY);
  json_decref(s);
}

static void test_adoption(void) {
  json_t *i = inst("i-7", "running");
  json_t *tags = json_object_get(i, "tags");
  json_object_set_new(tags, "Tenant", json_string("tacc.prod"));
  json_object_set_new(tags, "Owner", json_string("jdoe"));
  json_object_set_new(tags, "Name", json_string("box"));
  json_object_set_new(tags, "Config", json_string("jupyter"));
  json_t *s = one(i, NULL);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_ADOPT);
  json_t *r = json_object_get(json_array_get(s, 0), "record");
  ASSERT_TRUE(json_string_value(json_object_get(r, "id")) != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "tenant")), "TACC.PROD");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "tag")), "T1");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "owner")), "jdoe");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "name")), "box");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "config")), "jupyter");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "state")), "running");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "desired_state")), "running");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "ec2_instance_id")), "i-7");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "volume_id")), "vol-1");
  ASSERT_TRUE(json_is_true(json_object_get(r, "adopted")));
  ASSERT_TRUE(json_is_null(json_object_get(r, "stack_id")));
  json_decref(s);
}

static void test_adoption_defaults(void) {
  /* a bad Tenant tag and no Owner: the default tenant, owner null */
  json_t *i = inst("i-8", "stopped");
  json_object_set_new(json_object_get(i, "tags"), "Tenant", json_string("no spaces!"));
  json_t *s = one(i, NULL);
  json_t *r = json_object_get(json_array_get(s, 0), "record");
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "tenant")), "DEV-DEVELOP");
  ASSERT_TRUE(json_is_null(json_object_get(r, "owner")));
  ASSERT_EQ_STR(json_string_value(json_object_get(r, "desired_state")), "stopped");
  json_decref(s);
  /* a terminated instance is never adopted */
  s = one(inst("i-8", "terminated"), NULL);
  ASSERT_EQ_INT(json_array_size(s), 0);
  json_decref(s);
  /* two passes' ids differ: adoption ids are fresh */
  json_t *a = one(inst("i-1", "running"), NULL), *b = one(inst("i-1", "running"), NULL);
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(
                         json_object_get(json_array_get(a, 0), "record"), "id")),
                     json_string_value(json_object_get(
                         json_object_get(json_array_get(b, 0), "record"), "id"))) != 0);
  json_decref(a);
  json_decref(b);
}

static void test_gone_then_removed(void) {
  json_t *s = one(NULL, rec("a1", "i-1", "running", "running"));
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_MARK_GONE);
  ASSERT_EQ_STR(fld(s, 0, "state"), "terminated");
  ASSERT_EQ_STR(fld(s, 0, "observed_state"), "terminated");
  ASSERT_TRUE(fld(s, 0, "gone_since") != NULL);
  ASSERT_EQ_STR(ev(s, 0), UPD_EVENT_TERMINATED);
  json_decref(s);

  /* grace 60 s: gone 30 s ago stays, gone 61 s ago goes */
  upd_plan_opts_t o = opts();
  o.gone_grace_ms = 60 * SEC;
  json_t *r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "gone_since", ago(30));
  s = plan(json_array(), json_pack("[o]", r), &o);
  ASSERT_EQ_INT(json_array_size(s), 0);
  json_decref(s);
  r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "gone_since", ago(61));
  s = plan(json_array(), json_pack("[o]", r), &o);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REMOVE);
  json_decref(s);
  /* grace 0: removed at the next pass */
  r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "gone_since", ago(1));
  s = one(NULL, r);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REMOVE);
  json_decref(s);
}

static void test_back_again_clears_gone(void) {
  json_t *r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "gone_since", ago(1));
  json_t *s = one(inst("i-1", "running"), r);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REFRESH);
  ASSERT_TRUE(json_is_null(
      json_object_get(json_object_get(json_array_get(s, 0), "fields"), "gone_since")));
  ASSERT_EQ_STR(fld(s, 0, "state"), "running");
  json_decref(s);
}

static void test_listed_terminated_goes_after_grace(void) {
  /* first seen terminated: state follows, gone_since starts */
  json_t *s = one(inst("i-1", "terminated"), rec("a1", "i-1", "running", "running"));
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REFRESH);
  ASSERT_EQ_STR(fld(s, 0, "state"), "terminated");
  ASSERT_TRUE(fld(s, 0, "gone_since") != NULL);
  json_decref(s);
  /* still listed terminated, past the grace: removed */
  json_t *r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "gone_since", ago(1));
  s = one(inst("i-1", "terminated"), r);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REMOVE);
  json_decref(s);
  /* within the grace: nothing to write */
  upd_plan_opts_t o = opts();
  o.gone_grace_ms = 60 * SEC;
  r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "gone_since", ago(1));
  s = plan(json_pack("[o]", inst("i-1", "terminated")), json_pack("[o]", r), &o);
  ASSERT_EQ_INT(json_array_size(s), 0);
  json_decref(s);
}

static void test_deleting_terminated_removed(void) {
  json_t *r = rec("a1", "i-1", "shutting-down", "terminated");
  json_object_set_new(r, "deleting", json_true());
  json_t *s = one(inst("i-1", "terminated"), r);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REMOVE);
  json_decref(s);
  r = rec("a1", "i-1", "terminated", "terminated");
  json_object_set_new(r, "deleting", json_true());
  s = one(NULL, r);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REMOVE);
  json_decref(s);
}

static void test_failed_listing_plans_nothing(void) {
  upd_plan_opts_t o = opts();
  json_t *recs = json_pack("[o, o]", rec("a1", "i-1", "running", "running"),
                           rec("a2", "i-2", "stopped", "stopped"));
  json_t *steps = NULL;
  ASSERT_EQ_INT(upd_plan(NULL, recs, &o, &steps), 0);
  ASSERT_EQ_INT(json_array_size(steps), 0);
  json_decref(steps);
  json_decref(recs);
}

static void test_backoff_skips(void) {
  json_t *r = rec("a1", "i-1", "running", "running");
  json_object_set_new(r, "next_run", ago(-30)); /* 30 s ahead */
  json_object_set_new(r, "backoff_ms", json_integer(4000));
  json_t *s = one(inst("i-1", "stopped"), r);
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_SKIP);
  json_decref(s);
  /* unlisted ones too */
  r = rec("a1", "i-1", "running", "running");
  json_object_set_new(r, "next_run", ago(-30));
  s = one(NULL, r);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_SKIP);
  json_decref(s);
  /* once due, a step runs and clears the back-off */
  r = rec("a1", "i-1", "running", "running");
  json_object_set_new(r, "next_run", ago(1));
  json_object_set_new(r, "backoff_ms", json_integer(4000));
  s = one(inst("i-1", "stopped"), r);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_REFRESH);
  json_t *f = json_object_get(json_array_get(s, 0), "fields");
  ASSERT_TRUE(json_is_null(json_object_get(f, "backoff_ms")));
  ASSERT_TRUE(json_is_null(json_object_get(f, "next_run")));
  json_decref(s);
}

/* The per-object back-off doubles from 1 s to the cap and never
 * overflows, whatever backoff_ms a record holds (a corrupt or hand-edited
 * record once made prev * 2 a signed overflow). */
static void test_backoff_next_bounded(void) {
  ASSERT_EQ_INT(upd_backoff_next(0, 20000), 1000);
  ASSERT_EQ_INT(upd_backoff_next(-5, 20000), 1000);
  ASSERT_EQ_INT(upd_backoff_next(1000, 20000), 2000);
  ASSERT_EQ_INT(upd_backoff_next(8000, 20000), 16000);
  ASSERT_EQ_INT(upd_backoff_next(16000, 20000), 20000);
  ASSERT_EQ_INT(upd_backoff_next(20000, 20000), 20000);
  ASSERT_EQ_INT(upd_backoff_next(LLONG_MAX, 20000), 20000);
  ASSERT_EQ_INT(upd_backoff_next(LLONG_MAX / 2 + 1, 20000), 20000);
  ASSERT_EQ_INT(upd_backoff_next(LLONG_MAX, 0), 1000);
  ASSERT_EQ_INT(upd_backoff_next(0, 500), 500); /* a cap below the first step */
}

static void test_stacks_first(void) {
  upd_plan_opts_t o = opts();
  json_t *silent = rec("a1", NULL, "launching", "running");
  json_object_set_new(silent, "stack_id", json_string("arn:stack/1"));
  json_object_set_new(silent, "created", ago(3600));
  json_object_set_new(silent, "enacted", ago(11 * 60));
  json_t *busy = rec("a2", NULL, "launching", "running");
  json_object_set_new(busy, "stack_id", json_string("arn:stack/2"));
  json_object_set_new(busy, "enacted", ago(60));
  json_t *s = plan(json_pack("[o]", inst("i-3", "running")),
                   json_pack("[o, o]", busy, silent), &o);
  ASSERT_EQ_INT(json_array_size(s), 2);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_POLL_STACK);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(s, 0), "stack")),
                "arn:stack/1");
  ASSERT_EQ_STR(op(s, 1), UPD_OP_ADOPT);
  json_decref(s);
}

static void test_launching_with_instance_not_gone(void) {
  /* the listing may lag an instance the launcher just recorded */
  json_t *s = one(NULL, rec("a1", "i-1", "launching", "running"));
  ASSERT_EQ_INT(json_array_size(s), 0);
  json_decref(s);
  /* records without an instance and without a stack are left alone */
  s = one(NULL, rec("a1", NULL, "failed", "running"));
  ASSERT_EQ_INT(json_array_size(s), 0);
  json_decref(s);
}

static void test_other_tenant_same_id(void) {
  /* AbacoId matches only within the Tenant tag's tenant */
  json_t *i = inst("i-5", "running");
  json_object_set_new(json_object_get(i, "tags"), "AbacoId", json_string("a1"));
  json_object_set_new(json_object_get(i, "tags"), "Tenant", json_string("OTHER"));
  json_t *s = one(i, rec("a1", NULL, "stopped", "stopped"));
  ASSERT_EQ_INT(json_array_size(s), 1);
  ASSERT_EQ_STR(op(s, 0), UPD_OP_ADOPT);
  json_decref(s);
}

/* The volume step: records with a volume (not terminal) get the observed
 * volume state, "deleted" when the cloud lists it no more, and only when
 * it changed. */
static void test_volume_changes(void) {
  json_t *recs = json_array();
  json_t *a = rec("a1", "i-1", "running", "running"), *b = rec("b1", "i-2", "running", "running"),
         *c = rec("c1", "i-3", "terminated", "terminated"), *d = rec("d1", "i-4", "stopped",
                                                                      "stopped");
  json_object_set_new(a, "volume_id", json_string("vol-a"));
  json_object_set_new(b, "volume_id", json_string("vol-b"));
  json_object_set_new(b, "volume_state", json_string("in-use"));
  json_object_set_new(c, "volume_id", json_string("vol-c"));
  json_object_set_new(d, "volume_id", json_string("vol-d"));
  json_object_set_new(d, "volume_state", json_string("in-use"));
  json_array_append_new(recs, a);
  json_array_append_new(recs, b);
  json_array_append_new(recs, c);
  json_array_append_new(recs, d);
  json_array_append_new(recs, rec("e1", "i-5", "running", "running")); /* no volume */
  json_t *ids = upd_volume_ids(recs);
  ASSERT_EQ_INT(json_array_size(ids), 3); /* vol-a, vol-b, vol-d: not the terminated one */
  ASSERT_EQ_STR(json_string_value(json_array_get(ids, 2)), "vol-d");
  json_decref(ids);
  json_t *present = json_pack("[{s:s, s:s}, {s:s, s:s}]", "volume_id", "vol-a", "state",
                              "in-use", "volume_id", "vol-b", "state", "in-use");
  json_t *ch = upd_volume_changes(recs, present);
  ASSERT_EQ_INT(json_array_size(ch), 2); /* a: new; b: unchanged; d: gone */
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ch, 0), "id")), "a1");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ch, 0), "volume_state")),
                "in-use");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ch, 1), "id")), "d1");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ch, 1), "volume_state")),
                "deleted");
  json_decref(ch);
  json_decref(present);
  json_decref(recs);
}

static void test_events(void) {
  ASSERT_EQ_STR(upd_event_for("running", "stopped"), UPD_EVENT_STOPPED);
  ASSERT_EQ_STR(upd_event_for("pending", "terminated"), UPD_EVENT_TERMINATED);
  ASSERT_EQ_STR(upd_event_for("launching", "running"), UPD_EVENT_READY);
  ASSERT_TRUE(upd_event_for("stopped", "stopped") == NULL);
  ASSERT_TRUE(upd_event_for("running", "stopping") == NULL);
  json_t *r = rec("a1", "i-1", "stopped", "stopped");
  chan_instance_event_t e = {.type = UPD_EVENT_STOPPED, .instance = r};
  json_t *b = chan_instance_event_body(&e);
  ASSERT_EQ_STR(json_string_value(json_object_get(b, "event_type")), UPD_EVENT_STOPPED);
  ASSERT_EQ_STR(json_string_value(json_object_get(b, "instance_id")), "a1");
  ASSERT_EQ_STR(json_string_value(json_object_get(b, "ec2_instance_id")), "i-1");
  ASSERT_EQ_STR(json_string_value(json_object_get(b, "tenant_id")), "DEV-DEVELOP");
  ASSERT_TRUE(json_is_null(json_object_get(b, "owner")));
  json_decref(b);
  json_decref(r);
}

static void test_ten_thousand_quiet(void) {
  /* the planning cost of a quiet pass at scale */
  upd_plan_opts_t o = opts();
  json_t *listing = json_array(), *recs = json_array();
  char ec2[32], id[32];
  for (int k = 0; k < 10000; k++) {
    snprintf(ec2, sizeof(ec2), "i-%08d", k);
    snprintf(id, sizeof(id), "id%d", k);
    json_array_append_new(listing, inst(ec2, "running"));
    json_array_append_new(recs, rec(id, ec2, "running", "running"));
  }
  int64_t t0 = actor_time_mono_ms();
  json_t *s = plan(listing, recs, &o);
  int64_t spent = actor_time_mono_ms() - t0;
  fprintf(stderr, "planned 10000 quiet instances in %lld ms\n", (long long)spent);
  ASSERT_EQ_INT(json_array_size(s), 0);
  ASSERT_TRUE(spent < 5000);
  json_decref(s);
}

int main(void) {
  RUN_TEST(test_unchanged_writes_nothing);
  RUN_TEST(test_console_stop_is_followed);
  RUN_TEST(test_stale_guard_keeps_user_transition);
  RUN_TEST(test_stale_guard_expires);
  RUN_TEST(test_goal_passes_the_guard);
  RUN_TEST(test_terminated_beats_the_guard);
  RUN_TEST(test_ready_after_launch);
  RUN_TEST(test_adoption);
  RUN_TEST(test_adoption_defaults);
  RUN_TEST(test_gone_then_removed);
  RUN_TEST(test_back_again_clears_gone);
  RUN_TEST(test_listed_terminated_goes_after_grace);
  RUN_TEST(test_deleting_terminated_removed);
  RUN_TEST(test_failed_listing_plans_nothing);
  RUN_TEST(test_backoff_skips);
  RUN_TEST(test_backoff_next_bounded);
  RUN_TEST(test_stacks_first);
  RUN_TEST(test_launching_with_instance_not_gone);
  RUN_TEST(test_other_tenant_same_id);
  RUN_TEST(test_events);
  RUN_TEST(test_volume_changes);
  RUN_TEST(test_ten_thousand_quiet);
  TEST_EXIT();
}
