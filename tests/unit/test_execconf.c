/* Unit tests for actor/execconf.h: the execution settings a worker uses
 * and the spawner checks at start -- Abaco's -1 for "no limit", the
 * per-tenant log_ex, actor_uid/actor_gid and generate_clients, and a bad
 * value anywhere (a tenant's included) making the check fail. */
#include "actor/errors.h"
#include "actor/execconf.h"
#include "test.h"

static actor_config_t *parse(const char *text) {
  actor_config_t *cfg = NULL;
  if (actor_config_parse(text, &cfg) != 0)
    fprintf(stderr, "bad test config\n");
  return cfg;
}

static void test_abaco_unlimited(void) {
  actor_config_t *cfg = parse("[workers]\nmax_run_time: -1\nmax_cpus = -1\nmem_limit = -1\n"
                              "[web]\nlog_ex: -1\n");
  actor_execconf_t x;
  ASSERT_EQ_INT(actor_execconf_read(cfg, NULL, &x), 0);
  ASSERT_EQ_INT(x.max_run_time, 0);
  ASSERT_EQ_INT(x.max_cpus, 0);
  ASSERT_EQ_INT(x.mem_bytes, 0);
  ASSERT_EQ_INT(x.log_ex, 0); /* logs kept forever */
  ASSERT_EQ_STR(x.uid, "");
  ASSERT_EQ_INT(x.generate_clients, 0);
  actor_config_free(cfg);
}

static void test_values_and_defaults(void) {
  actor_config_t *cfg = parse("[workers]\nmax_run_time = 30\nmax_cpus = 1000000000\n"
                              "mem_limit = 2g\nactor_uid = 1000\nactor_gid = 1001\n");
  actor_execconf_t x;
  ASSERT_EQ_INT(actor_execconf_read(cfg, "", &x), 0);
  ASSERT_EQ_INT(x.max_run_time, 30);
  ASSERT_EQ_INT(x.max_cpus, 1000000000);
  ASSERT_EQ_INT(x.mem_bytes, 2LL << 30);
  ASSERT_EQ_INT(x.log_ex, 86400); /* [web] log_ex unset */
  ASSERT_EQ_STR(x.uid, "1000");
  ASSERT_EQ_STR(x.gid, "1001");
  actor_config_free(cfg);
}

static void test_per_tenant(void) {
  actor_config_t *cfg = parse("[workers]\ngenerate_clients: False\n"
                              "DEV-STAGING_generate_clients: True\n"
                              "designsafe_actor_uid: 458981\ndesignsafe_actor_gid: 816877\n"
                              "[web]\nlog_ex: 43200\nsd2e_log_ex: 10800\n");
  actor_execconf_t x;
  ASSERT_EQ_INT(actor_execconf_read(cfg, "DESIGNSAFE", &x), 0);
  ASSERT_EQ_STR(x.uid, "458981");
  ASSERT_EQ_STR(x.gid, "816877");
  ASSERT_EQ_INT(x.log_ex, 43200);
  ASSERT_EQ_INT(x.generate_clients, 0);
  ASSERT_EQ_INT(actor_execconf_read(cfg, "SD2E", &x), 0);
  ASSERT_EQ_INT(x.log_ex, 10800);
  ASSERT_EQ_STR(x.uid, "");
  ASSERT_EQ_INT(actor_execconf_read(cfg, "DEV-STAGING", &x), 0);
  ASSERT_EQ_INT(x.generate_clients, 1);
  bool any = false;
  ASSERT_EQ_INT(actor_execconf_check(cfg, &any), 0);
  ASSERT_EQ_INT(any, 1); /* only one tenant has tokens: the spawner still needs clientg */
  actor_config_free(cfg);
}

/* The spawner's start-up check fails on any bad value, a tenant's too. */
static void test_check_refuses(void) {
  static const char *const BAD[] = {
      "[workers]\nmax_run_time = -5\n",         "[workers]\nmem_limit = lots\n",
      "[workers]\nmax_cpus = one\n",            "[web]\nlog_ex = -2\n",
      "[web]\nsd2e_log_ex = soon\n",            "[workers]\ndev_generate_clients = maybe\n",
      "[workers]\ngenerate_clients = perhaps\n"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    actor_config_t *cfg = parse(BAD[i]);
    bool any = true;
    int rc = actor_execconf_check(cfg, &any);
    if (rc != ACTOR_ECONFIG)
      fprintf(stderr, "  accepted: %s", BAD[i]);
    ASSERT_EQ_INT(rc, ACTOR_ECONFIG);
    actor_config_free(cfg);
  }
  actor_config_t *cfg = parse("[web]\nsd2e_log_ex = 60\n");
  bool any = true;
  ASSERT_EQ_INT(actor_execconf_check(cfg, &any), 0);
  ASSERT_EQ_INT(any, 0);
  actor_config_free(cfg);
}

int main(void) {
  RUN_TEST(test_abaco_unlimited);
  RUN_TEST(test_values_and_defaults);
  RUN_TEST(test_per_tenant);
  RUN_TEST(test_check_refuses);
  TEST_EXIT();
}
