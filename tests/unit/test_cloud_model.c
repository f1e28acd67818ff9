/* The cloud model (cloud.h) against a live Redis (REDIS_URL, database 15):
 * instance records and their three indexes (tenant set, tag index, EC2 id),
 * guarded transitions, the running-time accounting behind `cost`, the
 * pipelined listings (with a timing of cloud_instances_of_tag over 10,000
 * records), software configurations, groups, params and the metrics
 * hashes. Every test uses a tenant and a tag unique to its process and
 * deletes their keys at the end. Skipped when REDIS_URL is unset; fails
 * when Redis is unreachable. */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "actor/cloud.h"
#include "actor/errors.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"
#include "redis_test_store.h"
#include "test.h"

static store_redis_t *store;
static char tenant[64], tag[64];

static json_t *instance(const char *id, const char *state) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "tenant", tenant, "tag", tag,
                   "state", state, "owner", "alice", "progress_token", "sekrit");
}

static void create(const char *id, const char *state) {
  json_t *obj = instance(id, state);
  ASSERT_TRUE(obj != NULL);
  ASSERT_EQ_INT(cloud_instance_create(store, obj), 0);
  json_decref(obj);
}

static long long scard(const char *key) {
  long long n = -1;
  ASSERT_EQ_INT(store_set_count(store, key, &n), 0);
  return n;
}

static bool is_member(const char *key, const char *member) {
  redisReply *rep = store_redis_cmd(store, "SISMEMBER %s %s", key, member);
  bool yes = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
  freeReplyObject(rep);
  return yes;
}

static const char *k(const char *fmt, const char *a) {
  static char buf[4][256];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, sizeof(buf[0]), fmt, a);
  return b;
}

static const char *str(const json_t *obj, const char *field) {
  return json_string_value(json_object_get(obj, field));
}

static void test_create_get(void) {
  json_t *rec = NULL;
  create("i1", "launching");
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "i1", &rec), 0);
  ASSERT_EQ_STR(str(rec, "state"), "launching");
  ASSERT_EQ_STR(str(rec, "owner"), "alice");
  ASSERT_EQ_INT(json_integer_value(json_object_get(rec, "running_seconds")), 0);
  json_decref(rec);
  /* a second create of the same id is refused, the first record stays */
  json_t *again = instance("i1", "running");
  ASSERT_EQ_INT(cloud_instance_create(store, again), ACTOR_EEXIST);
  json_decref(again);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "i1", &rec), 0);
  ASSERT_EQ_STR(str(rec, "state"), "launching");
  json_decref(rec);
  /* indexes */
  json_t *ids = NULL;
  ASSERT_EQ_INT(cloud_instance_ids(store, tenant, &ids), 0);
  ASSERT_EQ_INT(json_array_size(ids), 1);
  ASSERT_EQ_STR(json_string_value(json_array_get(ids, 0)), "i1");
  json_decref(ids);
  char member[160];
  snprintf(member, sizeof(member), "%s:i1", tenant);
  ASSERT_TRUE(is_member(k("abaco:cloud:index:%s", tag), member));
  /* absent, and bad objects */
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "nope", &rec), ACTOR_ENOTFOUND);
  ASSERT_TRUE(rec == NULL);
  json_t *bad = json_pack("{s:s, s:s}", "id", "x", "tenant", tenant); /* no tag */
  ASSERT_EQ_INT(cloud_instance_create(store, bad), ACTOR_EINVAL);
  json_decref(bad);
  /* created with an EC2 id and running: indexed, and running time starts */
  json_t *obj = instance("i2", "running");
  json_object_set_new(obj, "ec2_instance_id", json_string(k("i-%s", tenant)));
  ASSERT_EQ_INT(cloud_instance_create(store, obj), 0);
  json_decref(obj);
  ASSERT_EQ_INT(cloud_instance_by_ec2(store, k("i-%s", tenant), &rec), 0);
  ASSERT_EQ_STR(str(rec, "id"), "i2");
  ASSERT_TRUE(json_is_string(json_object_get(rec, "running_since")));
  json_decref(rec);
}

static void test_by_ec2_and_update(void) {
  json_t *rec = NULL;
  char ec2a[96], ec2b[96];
  snprintf(ec2a, sizeof(ec2a), "i-a%s", tenant);
  snprintf(ec2b, sizeof(ec2b), "i-b%s", tenant);
  create("u1", "launching");
  ASSERT_EQ_INT(cloud_instance_by_ec2(store, ec2a, &rec), ACTOR_ENOTFOUND);
  json_t *f = json_pack("{s:s, s:s}", "ec2_instance_id", ec2a, "stack_id", "arn:1");
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, "u1", f), 0);
  json_decref(f);
  ASSERT_EQ_INT(cloud_instance_by_ec2(store, ec2a, &rec), 0);
  ASSERT_EQ_STR(str(rec, "id"), "u1");
  ASSERT_EQ_STR(str(rec, "stack_id"), "arn:1");
  ASSERT_EQ_STR(str(rec, "state"), "launching"); /* other fields untouched */
  json_decref(rec);
  /* a new EC2 id moves the index */
  f = json_pack("{s:s}", "ec2_instance_id", ec2b);
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, "u1", f), 0);
  json_decref(f);
  ASSERT_EQ_INT(cloud_instance_by_ec2(store, ec2a, &rec), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_instance_by_ec2(store, ec2b, &rec), 0);
  ASSERT_EQ_STR(str(rec, "id"), "u1");
  json_decref(rec);
  /* an absent record is not created by an update */
  f = json_pack("{s:s}", "state", "running");
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, "ghost", f), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "ghost", &rec), ACTOR_ENOTFOUND);
  json_decref(f);
  /* a state that is not one */
  f = json_pack("{s:s}", "state", "flying");
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, "u1", f), ACTOR_EINVAL);
  json_decref(f);
}

static void test_transition_guard(void) {
  json_t *rec = NULL;
  create("t1", "running");
  const char *const need_stopped[] = {"stopped", NULL};
  const char *const need_running[] = {"running", "pending", NULL};
  json_t *f = json_pack("{s:s, s:s}", "state", "pending", "desired_state", "running");
  ASSERT_EQ_INT(cloud_instance_transition(store, tenant, "t1", need_stopped, f), ACTOR_ESTATE);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "t1", &rec), 0);
  ASSERT_EQ_STR(str(rec, "state"), "running"); /* nothing written */
  ASSERT_TRUE(json_object_get(rec, "desired_state") == NULL);
  json_decref(rec);
  json_decref(f);
  f = json_pack("{s:s, s:s}", "state", "stopping", "desired_state", "stopped");
  ASSERT_EQ_INT(cloud_instance_transition(store, tenant, "t1", need_running, f), 0);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "t1", &rec), 0);
  ASSERT_EQ_STR(str(rec, "state"), "stopping");
  ASSERT_EQ_STR(str(rec, "desired_state"), "stopped");
  ASSERT_TRUE(json_is_null(json_object_get(rec, "running_since"))); /* left running */
  json_decref(rec);
  ASSERT_EQ_INT(cloud_instance_transition(store, tenant, "ghost", NULL, f), ACTOR_ENOTFOUND);
  json_decref(f);
  /* NULL from: any state */
  f = json_pack("{s:s}", "state", "stopped");
  ASSERT_EQ_INT(cloud_instance_transition(store, tenant, "t1", NULL, f), 0);
  json_decref(f);
}

static void test_delete_removes_index(void) {
  json_t *rec = NULL;
  char ec2[96], member[160];
  snprintf(ec2, sizeof(ec2), "i-d%s", tenant);
  snprintf(member, sizeof(member), "%s:d1", tenant);
  create("d1", "running");
  create("d2", "running");
  json_t *f = json_pack("{s:s}", "ec2_instance_id", ec2);
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, "d1", f), 0);
  json_decref(f);
  /* found by its platform id alone (any tenant) */
  ASSERT_EQ_INT(cloud_instance_find(store, "d1", &rec), 0);
  ASSERT_EQ_STR(str(rec, "tenant"), tenant);
  json_decref(rec);
  ASSERT_EQ_INT(cloud_instance_delete(store, tenant, "d1"), 0);
  ASSERT_EQ_INT(cloud_instance_find(store, "d1", &rec), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "d1", &rec), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_instance_by_ec2(store, ec2, &rec), ACTOR_ENOTFOUND);
  bool exists = true;
  ASSERT_EQ_INT(store_key_exists(store, k("abaco:cloud:ec2:%s", ec2), &exists), 0);
  ASSERT_TRUE(!exists);
  ASSERT_TRUE(!is_member(k("abaco:cloud:index:%s", tag), member));
  ASSERT_TRUE(!is_member(k("abaco:instances:%s", tenant), "d1"));
  ASSERT_EQ_INT(scard(k("abaco:instances:%s", tenant)), 1); /* d2 stays */
  ASSERT_EQ_INT(scard(k("abaco:cloud:index:%s", tag)), 1);
  /* deleting again is not an error */
  ASSERT_EQ_INT(cloud_instance_delete(store, tenant, "d1"), 0);
}

static void test_of_tag_drops_dangling(void) {
  json_t *recs = NULL;
  create("o1", "running");
  create("o2", "stopped");
  create("o3", "launching");
  /* o2's record vanishes behind the model's back; a malformed member too */
  ASSERT_EQ_INT(store_key_delete(store, k("abaco:instance:%s:o2", tenant), NULL), 0);
  ASSERT_EQ_INT(store_set_add(store, k("abaco:cloud:index:%s", tag), "no-colon", NULL), 0);
  ASSERT_EQ_INT(scard(k("abaco:cloud:index:%s", tag)), 4);
  ASSERT_EQ_INT(cloud_instances_of_tag(store, tag, &recs), 0);
  ASSERT_EQ_INT(json_array_size(recs), 2);
  size_t i;
  json_t *rec;
  json_array_foreach(recs, i, rec) {
    ASSERT_TRUE(strcmp(str(rec, "id"), "o1") == 0 || strcmp(str(rec, "id"), "o3") == 0);
  }
  json_decref(recs);
  ASSERT_EQ_INT(scard(k("abaco:cloud:index:%s", tag)), 2);
  /* an unknown tag is an empty list */
  ASSERT_EQ_INT(cloud_instances_of_tag(store, "no-such-tag-at-all", &recs), 0);
  ASSERT_EQ_INT(json_array_size(recs), 0);
  json_decref(recs);
}

static void test_get_many(void) {
  json_t *recs = NULL;
  create("g1", "running");
  create("g2", "running");
  create("g3", "running");
  json_t *ids = json_pack("[s, s, s, s, i, s]", "g3", "absent", "g1", "g2", 7, "");
  ASSERT_EQ_INT(cloud_instances_get_many(store, tenant, ids, &recs), 0);
  ASSERT_EQ_INT(json_array_size(recs), 3);
  ASSERT_EQ_STR(str(json_array_get(recs, 0), "id"), "g3"); /* in the order asked */
  ASSERT_EQ_STR(str(json_array_get(recs, 1), "id"), "g1");
  ASSERT_EQ_STR(str(json_array_get(recs, 2), "id"), "g2");
  json_decref(recs);
  json_decref(ids);
  ids = json_array();
  ASSERT_EQ_INT(cloud_instances_get_many(store, tenant, ids, &recs), 0);
  ASSERT_EQ_INT(json_array_size(recs), 0);
  json_decref(recs);
  json_decref(ids);
}

static void test_backend_error_keeps_10(void) {
  json_t *rec = NULL;
  create("b1", "running");
  for (int i = 0; i < 12; i++) {
    char msg[32];
    snprintf(msg, sizeof(msg), "e%d", i);
    ASSERT_EQ_INT(cloud_instance_backend_error(store, tenant, "b1", "StartInstances",
                                               i % 2 ? "Throttling" : NULL, msg, "req-1"),
                  0);
  }
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "b1", &rec), 0);
  json_t *bs = json_object_get(rec, "backend_status");
  ASSERT_EQ_INT(json_array_size(bs), 10);
  ASSERT_EQ_STR(str(json_array_get(bs, 0), "message"), "e11"); /* newest first */
  ASSERT_EQ_STR(str(json_array_get(bs, 0), "code"), "Throttling");
  ASSERT_EQ_STR(str(json_array_get(bs, 0), "op"), "StartInstances");
  ASSERT_EQ_STR(str(json_array_get(bs, 0), "request_id"), "req-1");
  ASSERT_TRUE(json_is_string(json_object_get(json_array_get(bs, 0), "time")));
  ASSERT_EQ_STR(str(json_array_get(bs, 9), "message"), "e2");
  ASSERT_EQ_STR(str(rec, "error"), "e11");
  json_decref(rec);
  ASSERT_EQ_INT(cloud_instance_backend_error(store, tenant, "ghost", "op", "c", "m", NULL),
                ACTOR_ENOTFOUND);
}

/* Moves running_since back by secs, as if the instance had run that long. */
static void backdate(const char *id, long secs) {
  char t[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms() - secs * 1000, t);
  json_t *f = json_pack("{s:s}", "running_since", t);
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, id, f), 0);
  json_decref(f);
}

static void set_state(const char *id, const char *state) {
  json_t *f = json_pack("{s:s}", "state", state);
  ASSERT_EQ_INT(cloud_instance_update(store, tenant, id, f), 0);
  json_decref(f);
}

static void test_public_strips_token_and_cost(void) {
  json_t *rec = NULL, *pub = NULL;
  create("p1", "pending");
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "p1", &rec), 0);
  ASSERT_TRUE(json_object_get(rec, "running_since") == NULL);
  pub = cloud_instance_public(rec, 1.0);
  ASSERT_TRUE(json_object_get(pub, "progress_token") == NULL);
  ASSERT_TRUE(json_real_value(json_object_get(pub, "cost")) == 0.0);
  ASSERT_EQ_STR(str(rec, "progress_token"), "sekrit"); /* the record is not changed */
  json_decref(pub);
  json_decref(rec);
  /* two hours running, then stopped: 7200 s accumulated */
  set_state("p1", "running");
  backdate("p1", 7200);
  set_state("p1", "running"); /* running again: running_since is kept */
  set_state("p1", "stopping");
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "p1", &rec), 0);
  ASSERT_TRUE(json_is_null(json_object_get(rec, "running_since")));
  long long secs = json_integer_value(json_object_get(rec, "running_seconds"));
  ASSERT_TRUE(secs >= 7200 && secs <= 7205);
  pub = cloud_instance_public(rec, 0.5);
  ASSERT_TRUE(json_real_value(json_object_get(pub, "cost")) == 1.0); /* 2 h x 0.5 */
  ASSERT_TRUE(json_object_get(pub, "progress_token") == NULL);
  json_decref(pub);
  pub = cloud_instance_public(rec, -1);
  ASSERT_TRUE(json_is_null(json_object_get(pub, "cost")));
  json_decref(pub);
  json_decref(rec);
  /* stopped -> stopped adds nothing; running again for one more hour,
   * still running: cost counts the open period too */
  set_state("p1", "stopped");
  set_state("p1", "running");
  backdate("p1", 3600);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "p1", &rec), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(rec, "running_seconds")), secs);
  pub = cloud_instance_public(rec, 0.0123);
  /* 3 h x 0.0123 = 0.0369 -> 0.04 */
  ASSERT_TRUE(json_real_value(json_object_get(pub, "cost")) == 0.04);
  json_decref(pub);
  json_decref(rec);
  /* the transition path accounts too */
  const char *const from[] = {"running", NULL};
  json_t *f = json_pack("{s:s}", "state", "terminated");
  ASSERT_EQ_INT(cloud_instance_transition(store, tenant, "p1", from, f), 0);
  json_decref(f);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, "p1", &rec), 0);
  secs = json_integer_value(json_object_get(rec, "running_seconds"));
  ASSERT_TRUE(secs >= 10800 && secs <= 10810);
  json_decref(rec);
}

/* A record whose running_seconds is absurd (corrupt, or edited by hand)
 * and a price that is not finite: the cost stays a number or null, and
 * adding the open period cannot overflow (it once was a signed overflow
 * and an out-of-range double-to-integer cast). No store needed. */
static void test_public_cost_bounded(void) {
  char since[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms() - 3600 * 1000, since);
  json_t *rec = json_pack("{s:s, s:I, s:s, s:s}", "id", "x", "running_seconds",
                          (json_int_t)LLONG_MAX, "running_since", since, "progress_token", "t");
  json_t *pub = cloud_instance_public(rec, 1.0);
  ASSERT_TRUE(pub != NULL);
  json_t *cost = json_object_get(pub, "cost");
  ASSERT_TRUE(json_is_real(cost) && json_real_value(cost) > 0 && isfinite(json_real_value(cost)));
  json_decref(pub);
  pub = cloud_instance_public(rec, INFINITY);
  ASSERT_TRUE(pub != NULL && json_is_null(json_object_get(pub, "cost")));
  json_decref(pub);
  pub = cloud_instance_public(rec, NAN);
  ASSERT_TRUE(pub != NULL && json_is_null(json_object_get(pub, "cost")));
  json_decref(pub);
  pub = cloud_instance_public(rec, 1e300); /* the product is beyond a double */
  ASSERT_TRUE(pub != NULL && json_is_null(json_object_get(pub, "cost")));
  ASSERT_TRUE(json_object_get(pub, "progress_token") == NULL);
  json_decref(pub);
  json_object_set_new(rec, "running_seconds", json_real(1e300));
  pub = cloud_instance_public(rec, 0.5);
  cost = json_object_get(pub, "cost");
  ASSERT_TRUE(json_is_real(cost) && isfinite(json_real_value(cost)));
  json_decref(pub);
  json_object_set_new(rec, "running_seconds", json_integer(-50));
  json_object_del(rec, "running_since");
  pub = cloud_instance_public(rec, 1.0);
  ASSERT_TRUE(json_real_value(json_object_get(pub, "cost")) == 0.0);
  json_decref(pub);
  json_decref(rec);
}

static void test_swconfigs_groups_params(void) {
  json_t *c = json_pack("{s:s, s:s, s:s, s:[s,s], s:n}", "name", "web", "image_id", "ami-1",
                        "template", "{}", "instance_types", "t2.micro", "t3.small", "volume");
  json_t *out = NULL;
  ASSERT_EQ_INT(cloud_swconfig_put(store, tenant, c), 0);
  json_object_set_new(c, "name", json_string("alpha"));
  ASSERT_EQ_INT(cloud_swconfig_put(store, tenant, c), 0);
  json_object_set_new(c, "name", json_string("bad name"));
  ASSERT_EQ_INT(cloud_swconfig_put(store, tenant, c), ACTOR_EINVAL);
  json_decref(c);
  ASSERT_EQ_INT(cloud_swconfig_get(store, tenant, "web", &out), 0);
  ASSERT_EQ_STR(str(out, "image_id"), "ami-1");
  ASSERT_EQ_INT(json_array_size(json_object_get(out, "instance_types")), 2);
  ASSERT_TRUE(json_is_null(json_object_get(out, "volume")));
  json_decref(out);
  ASSERT_EQ_INT(cloud_swconfig_list(store, tenant, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 2);
  ASSERT_EQ_STR(str(json_array_get(out, 0), "name"), "alpha"); /* sorted */
  json_decref(out);
  ASSERT_EQ_INT(cloud_swconfig_delete(store, tenant, "alpha"), 0);
  ASSERT_EQ_INT(cloud_swconfig_delete(store, tenant, "alpha"), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_swconfig_get(store, tenant, "alpha", &out), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_swconfig_list(store, tenant, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  json_decref(out);

  /* groups: named, else the first (by name) with the user, else default */
  json_t *g = json_pack("{s:s, s:s, s:[s], s:[s]}", "name", "zeta", "key_name", "kz",
                        "security_group_ids", "sg-1", "members", "bob");
  ASSERT_EQ_INT(cloud_group_put(store, tenant, g), 0);
  json_decref(g);
  g = json_pack("{s:s, s:s, s:[s,s]}", "name", "beta", "key_name", "kb", "members", "carol",
                "bob");
  ASSERT_EQ_INT(cloud_group_put(store, tenant, g), 0);
  json_decref(g);
  ASSERT_EQ_INT(cloud_group_for(store, tenant, "dave", NULL, &out), 0);
  ASSERT_TRUE(out == NULL); /* no group, no default */
  g = json_pack("{s:s, s:s, s:[]}", "name", "default", "key_name", "kd", "members");
  ASSERT_EQ_INT(cloud_group_put(store, tenant, g), 0);
  json_decref(g);
  ASSERT_EQ_INT(cloud_group_for(store, tenant, "bob", NULL, &out), 0);
  ASSERT_EQ_STR(str(out, "name"), "beta");
  json_decref(out);
  ASSERT_EQ_INT(cloud_group_for(store, tenant, "dave", NULL, &out), 0);
  ASSERT_EQ_STR(str(out, "name"), "default");
  json_decref(out);
  ASSERT_EQ_INT(cloud_group_for(store, tenant, "dave", "zeta", &out), 0);
  ASSERT_EQ_STR(str(out, "key_name"), "kz");
  json_decref(out);
  ASSERT_EQ_INT(cloud_group_for(store, tenant, "dave", "nope", &out), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_group_list(store, tenant, &out), 0);
  ASSERT_EQ_INT(json_array_size(out), 3);
  json_decref(out);
  ASSERT_EQ_INT(cloud_group_delete(store, tenant, "default"), 0);
  ASSERT_EQ_INT(cloud_group_get(store, tenant, "default", &out), ACTOR_ENOTFOUND);

  /* params */
  json_t *p = json_pack("{s:s, s:s}", "proxy_host", "proxy.example.org", "ldap.url", "ldap://x");
  ASSERT_EQ_INT(cloud_params_set(store, tenant, p), 0);
  json_decref(p);
  p = json_pack("{s:s, s:i}", "ok", "v", "num", 3); /* refused whole */
  ASSERT_EQ_INT(cloud_params_set(store, tenant, p), ACTOR_EINVAL);
  json_decref(p);
  ASSERT_EQ_INT(cloud_params_get(store, tenant, &out), 0);
  ASSERT_EQ_INT(json_object_size(out), 2);
  ASSERT_EQ_STR(str(out, "proxy_host"), "proxy.example.org");
  json_decref(out);
  ASSERT_EQ_INT(cloud_params_delete(store, tenant, "proxy_host"), 0);
  ASSERT_EQ_INT(cloud_params_delete(store, tenant, "proxy_host"), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(cloud_params_get(store, tenant, &out), 0);
  ASSERT_EQ_INT(json_object_size(out), 1);
  json_decref(out);
}

/* A tenant has at most CLOUD_CATALOG_MAX configurations: a new name past
 * it writes nothing (ACTOR_ETOOBIG); rewriting an existing one is allowed. */
static void test_catalog_capped(void) {
  char t2[96], name[32];
  snprintf(t2, sizeof(t2), "%.60s-C", tenant);
  for (int i = 0; i < CLOUD_CATALOG_MAX; i++) {
    snprintf(name, sizeof(name), "c%d", i);
    json_t *c = json_pack("{s:s}", "name", name);
    ASSERT_EQ_INT(cloud_swconfig_put(store, t2, c), 0);
    json_decref(c);
  }
  json_t *extra = json_pack("{s:s}", "name", "one-too-many");
  ASSERT_EQ_INT(cloud_swconfig_put(store, t2, extra), ACTOR_ETOOBIG);
  json_decref(extra);
  json_t *out = NULL;
  ASSERT_EQ_INT(cloud_swconfig_get(store, t2, "one-too-many", &out), ACTOR_ENOTFOUND);
  json_t *again = json_pack("{s:s, s:s}", "name", "c7", "description", "rewritten");
  ASSERT_EQ_INT(cloud_swconfig_put(store, t2, again), 0);
  json_decref(again);
  /* a group of the same tenant is counted on its own */
  json_t *g = json_pack("{s:s}", "name", "g1");
  ASSERT_EQ_INT(cloud_group_put(store, t2, g), 0);
  json_decref(g);
}

/* A tenant has at most CLOUD_PARAMS_MAX params: a set that would pass it
 * writes nothing (ACTOR_ETOOBIG); replacing existing names is not growth. */
static void test_params_capped(void) {
  char t2[96];
  snprintf(t2, sizeof(t2), "%.60s-P", tenant);
  json_t *batch = json_object();
  char name[32];
  for (int i = 0; i < CLOUD_PARAMS_MAX; i++) {
    snprintf(name, sizeof(name), "p%d", i);
    json_object_set_new(batch, name, json_string("v"));
  }
  ASSERT_EQ_INT(cloud_params_set(store, t2, batch), 0);
  /* the same names again: fine */
  ASSERT_EQ_INT(cloud_params_set(store, t2, batch), 0);
  json_decref(batch);
  json_t *one = json_pack("{s:s, s:s}", "p0", "changed", "one_more", "x");
  ASSERT_EQ_INT(cloud_params_set(store, t2, one), ACTOR_ETOOBIG);
  json_decref(one);
  json_t *cur = NULL;
  ASSERT_EQ_INT(cloud_params_get(store, t2, &cur), 0);
  ASSERT_EQ_INT(json_object_size(cur), CLOUD_PARAMS_MAX);
  ASSERT_EQ_STR(str(cur, "p0"), "v"); /* nothing written */
  json_decref(cur);
  ASSERT_EQ_INT(cloud_params_delete(store, t2, "p1"), 0);
  one = json_pack("{s:s}", "one_more", "x");
  ASSERT_EQ_INT(cloud_params_set(store, t2, one), 0);
  json_decref(one);
  char key[128];
  snprintf(key, sizeof(key), "abaco:cloudparams:%s", t2);
  ASSERT_EQ_INT(store_key_delete(store, key, NULL), 0);
}

static void test_metrics(void) {
  long long before = 0, now = 0, thr0 = 0, thr1 = 0;
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:aws_calls", "TestOp|ok", &before), 0);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:aws_calls", "throttles", &thr0), 0);
  ASSERT_EQ_INT(cloud_metrics_aws_call(store, "TestOp", "ok", 0), 0);
  ASSERT_EQ_INT(cloud_metrics_aws_call(store, "TestOp", "ok", 2), 0);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:aws_calls", "TestOp|ok", &now), 0);
  ASSERT_EQ_INT(now - before, 2);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:aws_calls", "throttles", &thr1), 0);
  ASSERT_EQ_INT(thr1 - thr0, 2);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:reconcile", "passes", &before), 0);
  ASSERT_EQ_INT(cloud_metrics_reconcile(store, 1234, 56), 0);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:reconcile", "passes", &now), 0);
  ASSERT_EQ_INT(now - before, 1);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:reconcile", "duration_ms", &now), 0);
  ASSERT_EQ_INT(now, 1234);
  ASSERT_EQ_INT(store_counter_get(store, "abaco:metrics:reconcile", "objects", &now), 0);
  ASSERT_EQ_INT(now, 56);
}

static long long sscan_calls(void) {
  redisReply *rep = store_redis_cmd(store, "INFO commandstats");
  long long n = 0;
  const char *p =
      rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "cmdstat_sscan:calls=") : NULL;
  if (p)
    n = atoll(p + strlen("cmdstat_sscan:calls="));
  freeReplyObject(rep);
  return n;
}

#define BENCH_N 10000

/* 10,000 records written with raw pipelines (fast), then listed. */
static void test_of_tag_10000(void) {
  static char keys[BENCH_N][160], members[BENCH_N][160], ids[BENCH_N][16], idj[BENCH_N][20];
  static const char *argv[BENCH_N * 10];
  static redisReply *replies[BENCH_N];
  char tenj[96], tagj[96], index[128];
  snprintf(tenj, sizeof(tenj), "\"%s\"", tenant);
  snprintf(tagj, sizeof(tagj), "\"%s\"", tag);
  snprintf(index, sizeof(index), "abaco:cloud:index:%s", tag);
  for (int i = 0; i < BENCH_N; i++) {
    snprintf(ids[i], sizeof(ids[i]), "b%05d", i);
    snprintf(idj[i], sizeof(idj[i]), "\"%.15s\"", ids[i]);
    snprintf(keys[i], sizeof(keys[i]), "abaco:instance:%.80s:%.15s", tenant, ids[i]);
    snprintf(members[i], sizeof(members[i]), "%.80s:%.15s", tenant, ids[i]);
    const char *w[10] = {"HSET", keys[i], "id", idj[i], "tenant", tenj, "tag", tagj,
                         "state", "\"running\""};
    memcpy(argv + i * 10, w, sizeof(w));
  }
  ASSERT_EQ_INT(store__redis_pipeline(store, 10, argv, BENCH_N, replies), 0);
  for (int i = 0; i < BENCH_N; i++)
    freeReplyObject(replies[i]);
  for (int i = 0; i < BENCH_N; i++) {
    argv[i * 3] = "SADD";
    argv[i * 3 + 1] = index;
    argv[i * 3 + 2] = members[i];
  }
  ASSERT_EQ_INT(store__redis_pipeline(store, 3, argv, BENCH_N, replies), 0);
  for (int i = 0; i < BENCH_N; i++)
    freeReplyObject(replies[i]);
  ASSERT_EQ_INT(scard(index), BENCH_N);

  json_t *recs = NULL;
  long long scans = sscan_calls();
  int64_t t0 = actor_time_mono_ms();
  ASSERT_EQ_INT(cloud_instances_of_tag(store, tag, &recs), 0);
  int64_t t1 = actor_time_mono_ms();
  scans = sscan_calls() - scans;
  ASSERT_EQ_INT(json_array_size(recs), BENCH_N);
  json_decref(recs);
  json_t *idl = json_array();
  for (int i = 0; i < BENCH_N; i++)
    json_array_append_new(idl, json_string(ids[i]));
  int64_t t2 = actor_time_mono_ms();
  ASSERT_EQ_INT(cloud_instances_get_many(store, tenant, idl, &recs), 0);
  int64_t t3 = actor_time_mono_ms();
  ASSERT_EQ_INT(json_array_size(recs), BENCH_N);
  json_decref(recs);
  json_decref(idl);
  printf("BENCH cloud_instances_of_tag: %d records in %lld ms (%lld SSCAN pages); "
         "cloud_instances_get_many: %d in %lld ms\n",
         BENCH_N, (long long)(t1 - t0), scans, BENCH_N, (long long)(t3 - t2));
  fflush(stdout);
  /* pages of ~1000: a few dozen round trips at most, never one per record */
  ASSERT_TRUE(scans <= 50);
}

/* Every key of this process's tenant and tag. */
static void cleanup(void) {
  const char *pats[] = {"abaco:*%s*", NULL};
  for (int p = 0; pats[p]; p++) {
    const char *names[] = {tenant, tag};
    for (int j = 0; j < 2; j++) {
      char pat[160];
      snprintf(pat, sizeof(pat), pats[p], names[j]);
      unsigned long long cursor = 0;
      do {
        redisReply *rep = store_redis_cmd(store, "SCAN %llu MATCH %s COUNT 1000", cursor, pat);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
          freeReplyObject(rep);
          break;
        }
        cursor = strtoull(rep->element[0]->str, NULL, 10);
        for (size_t i = 0; i < rep->element[1]->elements; i++)
          ACTOR_IGNORE(store_key_delete(store, rep->element[1]->element[i]->str, NULL)); /* best effort */
        freeReplyObject(rep);
      } while (cursor != 0);
    }
  }
}

int main(void) {
  store = redis_test_store();
  if (store == NULL)
    return 1;
  snprintf(tenant, sizeof(tenant), "TCM%ld-%ld", (long)getpid(), (long)time(NULL));
  snprintf(tag, sizeof(tag), "TAG%ld-%ld", (long)getpid(), (long)time(NULL));
  RUN_TEST(test_create_get);
  RUN_TEST(test_by_ec2_and_update);
  RUN_TEST(test_transition_guard);
  RUN_TEST(test_delete_removes_index);
  RUN_TEST(test_of_tag_drops_dangling);
  RUN_TEST(test_get_many);
  RUN_TEST(test_backend_error_keeps_10);
  RUN_TEST(test_public_strips_token_and_cost);
  RUN_TEST(test_public_cost_bounded);
  RUN_TEST(test_swconfigs_groups_params);
  RUN_TEST(test_params_capped);
  RUN_TEST(test_catalog_capped);
  RUN_TEST(test_metrics);
  RUN_TEST(test_of_tag_10000);
  cleanup();
  store_redis_free(store);
  TEST_EXIT();
}
