/* [cloud] settings (cloud_settings_load): the defaults of docs/cloud.md,
 * overrides, the progress URL built from [web], a bad value refused with
 * ACTOR_ECONFIG; and the small helpers beside them: keys, states, stack
 * names. No server. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/config.h"
#include "actor/errors.h"
#include "test.h"

static int load(const char *ini, cloud_settings_t *s) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(ini, &cfg), 0);
  int rc = cloud_settings_load(cfg, s);
  /* the strings must outlive the config only as long as cfg: copy what
   * the caller checks before freeing (progress_url is in s itself) */
  static char tag[80], lq[80], cq[80], pf[256];
  snprintf(tag, sizeof(tag), "%s", s->tag ? s->tag : "(null)");
  snprintf(lq, sizeof(lq), "%s", s->launch_queue ? s->launch_queue : "(null)");
  snprintf(cq, sizeof(cq), "%s", s->command_queue ? s->command_queue : "(null)");
  snprintf(pf, sizeof(pf), "%s", s->pricing_file ? s->pricing_file : "(null)");
  s->tag = tag;
  s->launch_queue = lq;
  s->command_queue = cq;
  s->pricing_file = pf;
  actor_config_free(cfg);
  return rc;
}

static void test_defaults(void) {
  cloud_settings_t s;
  ASSERT_EQ_INT(load("[web]\nport = 8000\n", &s), 0);
  ASSERT_EQ_STR(s.tag, "ABACO");
  ASSERT_EQ_INT(s.max_count, 10);
  ASSERT_EQ_INT(s.update_interval, 60);
  ASSERT_EQ_INT(s.stale_guard, 300);
  ASSERT_EQ_INT(s.gone_grace, 0);
  ASSERT_EQ_STR(s.launch_queue, "launch");
  ASSERT_EQ_STR(s.command_queue, "instance_cmd");
  ASSERT_EQ_INT(s.poll_initial_ms, 20000);
  ASSERT_EQ_INT(s.poll_step_ms, 5000);
  ASSERT_EQ_INT(s.poll_max_ms, 60000);
  ASSERT_EQ_INT(s.poll_max_count, 90);
  ASSERT_EQ_INT(s.retry_cap_ms, 20000);
  ASSERT_EQ_STR(s.pricing_file, "services/api/share/ec2_instances.json");
  /* [web] bind defaults to 0.0.0.0, which instances reach as loopback */
  ASSERT_EQ_STR(s.progress_url, "http://127.0.0.1:8000");
  ASSERT_TRUE(s.progress_url == s.progress_url_buf);
}

static void test_progress_url_from_web(void) {
  cloud_settings_t s;
  ASSERT_EQ_INT(load("[web]\nbind = 10.1.2.3\nport = 9000\n", &s), 0);
  ASSERT_EQ_STR(s.progress_url, "http://10.1.2.3:9000");
  ASSERT_EQ_INT(load("[web]\nbind = 0.0.0.0\nport = 8123\n", &s), 0);
  ASSERT_EQ_STR(s.progress_url, "http://127.0.0.1:8123");
  ASSERT_EQ_INT(load("[web]\nbind = ::\nport = 80\n", &s), 0);
  ASSERT_EQ_STR(s.progress_url, "http://[::1]:80");
  ASSERT_EQ_INT(load("[web]\nbind = fd00::5\nport = 80\n", &s), 0);
  ASSERT_EQ_STR(s.progress_url, "http://[fd00::5]:80");
}

static void test_overrides(void) {
  cloud_settings_t s;
  ASSERT_EQ_INT(load("[web]\nport = 8000\n[cloud]\ntag = MLIY-prod\nmax_count = 3\n"
                     "update_interval = 5\nstale_guard = 0\ngone_grace = 600\n"
                     "launch_queue = l2\ncommand_queue = c2\npoll_initial_ms = 500\n"
                     "poll_step_ms = 0\npoll_max_ms = 5000\npoll_max_count = 7\n"
                     "retry_cap_ms = 100\nprogress_url = https://abaco.example.org/\n"
                     "pricing_file = /etc/prices.json\n",
                     &s),
                0);
  ASSERT_EQ_STR(s.tag, "MLIY-prod");
  ASSERT_EQ_INT(s.max_count, 3);
  ASSERT_EQ_INT(s.update_interval, 5);
  ASSERT_EQ_INT(s.stale_guard, 0);
  ASSERT_EQ_INT(s.gone_grace, 600);
  ASSERT_EQ_STR(s.launch_queue, "l2");
  ASSERT_EQ_STR(s.command_queue, "c2");
  ASSERT_EQ_INT(s.poll_initial_ms, 500);
  ASSERT_EQ_INT(s.poll_step_ms, 0);
  ASSERT_EQ_INT(s.poll_max_ms, 5000);
  ASSERT_EQ_INT(s.poll_max_count, 7);
  ASSERT_EQ_INT(s.retry_cap_ms, 100);
  ASSERT_EQ_STR(s.progress_url, "https://abaco.example.org"); /* no trailing '/' */
  ASSERT_EQ_STR(s.pricing_file, "/etc/prices.json");
}

static void test_bad_values(void) {
  cloud_settings_t s;
  const char *bad[] = {
      "[cloud]\nmax_count = abc\n",         "[cloud]\nmax_count = 0\n",
      "[cloud]\nupdate_interval = -1\n",    "[cloud]\nstale_guard = -5\n",
      "[cloud]\ntag = has space\n",         "[cloud]\ntag = \n",
      "[cloud]\nlaunch_queue = a/b\n",      "[cloud]\npoll_max_count = 0\n",
      "[cloud]\nprogress_url = ftp://x\n",  "[cloud]\nprogress_url = not a url\n",
      "[cloud]\npricing_file = \n",         "[web]\nport = eighty\n",
      /* upper bounds: each of these once passed, and update_interval * 1000
       * (or max_count allocations per launch) could overflow */
      "[cloud]\nupdate_interval = 9223372036854775807\n",
      "[cloud]\nmax_count = 1001\n",       "[cloud]\nstale_guard = 99999999999\n",
      "[cloud]\ngone_grace = 99999999999\n", "[cloud]\npoll_step_ms = 3600001\n",
      "[cloud]\npoll_max_count = 100001\n",  "[cloud]\nretry_cap_ms = 3600001\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = load(bad[i], &s);
    if (rc != ACTOR_ECONFIG)
      fprintf(stderr, "accepted: %s", bad[i]);
    ASSERT_EQ_INT(rc, ACTOR_ECONFIG);
  }
}

static void test_keys_states_stack_names(void) {
  char buf[128];
  ASSERT_EQ_INT(cloud_key_instance(buf, sizeof(buf), "T", "abc"), 0);
  ASSERT_EQ_STR(buf, "abaco:instance:T:abc");
  ASSERT_EQ_INT(cloud_key_swconfig(buf, sizeof(buf), "T", "web"), 0);
  ASSERT_EQ_STR(buf, "abaco:swconfig:T:web");
  ASSERT_EQ_INT(cloud_key_group(buf, sizeof(buf), "T", "g"), 0);
  ASSERT_EQ_STR(buf, "abaco:cloudgroup:T:g");
  ASSERT_EQ_INT(cloud_key_instance(buf, 10, "T", "abcdefghijkl"), ACTOR_ETOOBIG);

  const char *states[] = {"launching", "pending",       "running",    "stopping",
                          "stopped",   "shutting-down", "terminated", "failed"};
  for (size_t i = 0; i < 8; i++)
    ASSERT_TRUE(cloud_state_valid(states[i]));
  ASSERT_TRUE(!cloud_state_valid("RUNNING"));
  ASSERT_TRUE(!cloud_state_valid(""));
  ASSERT_TRUE(!cloud_state_valid(NULL));
  ASSERT_TRUE(cloud_state_terminal("terminated") && cloud_state_terminal("failed"));
  ASSERT_TRUE(!cloud_state_terminal("stopped") && !cloud_state_terminal(NULL));

  ASSERT_EQ_INT(cloud_stack_name(buf, sizeof(buf), "ABACO", "DEV_develop.x", "aB3"), 0);
  ASSERT_EQ_STR(buf, "ABACO-DEV-develop-x-aB3");
  char longid[140];
  memset(longid, 'a', 130);
  longid[130] = '\0';
  char big[256];
  ASSERT_EQ_INT(cloud_stack_name(big, sizeof(big), "ABACO", "T", longid), ACTOR_ETOOBIG);
  ASSERT_EQ_INT(cloud_stack_name(buf, 8, "ABACO", "T", "id"), ACTOR_ETOOBIG);
}

int main(void) {
  RUN_TEST(test_defaults);
  RUN_TEST(test_progress_url_from_web);
  RUN_TEST(test_overrides);
  RUN_TEST(test_bad_values);
  RUN_TEST(test_keys_states_stack_names);
  TEST_EXIT();
}
