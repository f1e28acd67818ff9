/* Unit tests for actor/json.h: the response envelope, snake/camel key
 * conversion (both ways, deep, with _links and opaque keys left alone),
 * the borrowed getters and compact dumps. */
#include "actor/json.h"
#include "test.h"

static void test_envelope(void) {
  json_t *res = json_pack("{s:s,s:i}", "id", "abc", "n", 2);
  json_t *env = actor_envelope(true, "Actor created.", res, "1.8.0");
  char *s = actor_json_dumps(env);
  ASSERT_EQ_STR(s, "{\"status\":\"success\",\"message\":\"Actor created.\","
                   "\"result\":{\"id\":\"abc\",\"n\":2},\"version\":\"1.8.0\"}");
  free(s);
  json_decref(env);

  env = actor_envelope(false, "Not authorized -- missing required role.", NULL, "1.8.0");
  ASSERT_EQ_STR(actor_json_str(env, "status", NULL), "error");
  ASSERT_TRUE(json_is_null(json_object_get(env, "result")));
  s = actor_json_dumps(env);
  ASSERT_EQ_STR(s, "{\"status\":\"error\",\"message\":\"Not authorized -- missing required "
                   "role.\",\"result\":null,\"version\":\"1.8.0\"}");
  free(s);
  json_decref(env);

  /* NULL message and version still give strings (clients read them). */
  env = actor_envelope(true, NULL, json_integer(3), NULL);
  s = actor_json_dumps(env);
  ASSERT_EQ_STR(s, "{\"status\":\"success\",\"message\":\"\",\"result\":3,\"version\":\"\"}");
  free(s);
  json_decref(env);
}

static void test_case_words(void) {
  static const struct {
    const char *snake, *camel;
  } pairs[] = {
      {"execution_id", "executionId"},
      {"max_workers", "maxWorkers"},
      {"last_health_check_time", "lastHealthCheckTime"},
      {"image", "image"},
      {"use_container_uid", "useContainerUid"},
      {"cron_next_ex", "cronNextEx"},
  };
  char out[64];
  for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
    actor_case_to_camel(pairs[i].snake, out, sizeof(out));
    ASSERT_EQ_STR(out, pairs[i].camel);
    actor_case_to_snake(pairs[i].camel, out, sizeof(out));
    ASSERT_EQ_STR(out, pairs[i].snake);
  }
  static const struct {
    bool to_camel;
    const char *in, *out;
  } one_way[] = {
      /* Keys starting with '_' are left as they are, both ways. */
      {true, "_links", "_links"},
      {true, "_abaco_actor_id", "_abaco_actor_id"},
      {false, "_abacoActorId", "_abacoActorId"},
      /* Abaco's camel_to_under on acronyms and digits (checked with Python:
       * re.sub('([a-z0-9])([A-Z])', r'\1_\2', re.sub('(.)([A-Z][a-z]+)', r'\1_\2', s)).lower()). */
      {false, "getHTTPResponseCode", "get_http_response_code"},
      {false, "HTTPServer", "http_server"},
      {false, "ab2Cd", "ab2_cd"},
      {false, "already_snake", "already_snake"},
      {false, "ABcDEf", "a_bc_d_ef"},
      /* Not a letter after '_': kept, so conversion stays reversible. */
      {true, "log_2x", "log_2x"},
      {true, "a__b_", "a_B_"},
  };
  for (size_t i = 0; i < sizeof(one_way) / sizeof(one_way[0]); i++) {
    if (one_way[i].to_camel)
      actor_case_to_camel(one_way[i].in, out, sizeof(out));
    else
      actor_case_to_snake(one_way[i].in, out, sizeof(out));
    ASSERT_EQ_STR(out, one_way[i].out);
  }
  /* Truncation keeps a NUL inside the buffer. */
  char small[6];
  actor_case_to_camel("max_workers", small, sizeof(small));
  ASSERT_EQ_STR(small, "maxWo");
  actor_case_to_snake("maxWorkers", small, sizeof(small));
  ASSERT_EQ_STR(small, "max_w");
}

static void test_convert_keys(void) {
  const char *in = "{\"execution_id\":\"e1\",\"max_workers\":2,"
                   "\"_links\":{\"self\":\"x\",\"owner_link\":\"y\"},"
                   "\"workers\":[{\"worker_id\":\"w\",\"last_execution_time\":\"t\"}],"
                   "\"default_environment\":{\"MY_VAR\":\"1\",\"other_var\":\"2\"},"
                   "\"final_state\":{\"exit_code\":0}}";
  static const char *const opaque[] = {"default_environment", "state", NULL};
  json_t *v = json_loads(in, 0, NULL);
  ASSERT_TRUE(v != NULL);
  json_t *camel = actor_json_convert_keys(v, true, opaque);
  char *s = actor_json_dumps(camel);
  ASSERT_EQ_STR(s, "{\"executionId\":\"e1\",\"maxWorkers\":2,"
                   "\"_links\":{\"self\":\"x\",\"owner_link\":\"y\"},"
                   "\"workers\":[{\"workerId\":\"w\",\"lastExecutionTime\":\"t\"}],"
                   "\"defaultEnvironment\":{\"MY_VAR\":\"1\",\"other_var\":\"2\"},"
                   "\"finalState\":{\"exitCode\":0}}");
  free(s);
  /* The original is untouched (deep copy). */
  ASSERT_EQ_STR(actor_json_str(v, "execution_id", NULL), "e1");

  /* And back: camelCase input (maxWorkers) is stored snake_case; the
   * opaque key is recognised in its camel spelling too. */
  json_t *snake = actor_json_convert_keys(camel, false, opaque);
  ASSERT_TRUE(json_equal(snake, v));
  json_t *env = json_object_get(snake, "default_environment");
  ASSERT_TRUE(json_object_get(env, "MY_VAR") != NULL);
  ASSERT_TRUE(json_object_get(env, "other_var") != NULL);

  /* Without an opaque list everything below is converted, except _links. */
  json_t *all = actor_json_convert_keys(v, true, NULL);
  ASSERT_TRUE(json_object_get(json_object_get(all, "defaultEnvironment"), "otherVar") != NULL);
  ASSERT_TRUE(json_object_get(json_object_get(all, "_links"), "owner_link") != NULL);

  /* Scalars and arrays at the top. */
  json_t *arr = json_loads("[{\"a_b\":1},2,\"c_d\"]", 0, NULL);
  json_t *carr = actor_json_convert_keys(arr, true, NULL);
  s = actor_json_dumps(carr);
  ASSERT_EQ_STR(s, "[{\"aB\":1},2,\"c_d\"]");
  free(s);
  ASSERT_TRUE(actor_json_convert_keys(NULL, true, NULL) == NULL);

  json_decref(arr);
  json_decref(carr);
  json_decref(all);
  json_decref(snake);
  json_decref(camel);
  json_decref(v);
}

static void test_getters(void) {
  json_t *o =
      json_loads("{\"s\":\"x\",\"i\":7,\"r\":3.0,\"f\":2.5,\"b\":true,\"n\":null}", 0, NULL);
  ASSERT_EQ_STR(actor_json_str(o, "s", "d"), "x");
  ASSERT_EQ_STR(actor_json_str(o, "i", "d"), "d");
  ASSERT_EQ_STR(actor_json_str(o, "missing", "d"), "d");
  ASSERT_TRUE(actor_json_str(o, "n", NULL) == NULL);
  ASSERT_EQ_INT(actor_json_int(o, "i", -1), 7);
  ASSERT_EQ_INT(actor_json_int(o, "r", -1), 3);
  ASSERT_EQ_INT(actor_json_int(o, "f", -1), -1);
  ASSERT_EQ_INT(actor_json_int(o, "s", -1), -1);
  ASSERT_EQ_INT(actor_json_bool(o, "b", false), 1);
  ASSERT_EQ_INT(actor_json_bool(o, "i", false), 0);
  ASSERT_EQ_INT(actor_json_bool(NULL, "b", true), 1);
  ASSERT_EQ_INT(actor_json_int(NULL, "i", 5), 5);
  json_decref(o);
}

static void test_dumps(void) {
  json_t *v = json_pack("{s:[i,s],s:{}}", "b", 1, "é\"", "a");
  char *s = actor_json_dumps(v);
  ASSERT_EQ_STR(s, "{\"b\":[1,\"é\\\"\"],\"a\":{}}");
  free(s);
  json_decref(v);
  v = json_string("top");
  s = actor_json_dumps(v);
  ASSERT_EQ_STR(s, "\"top\"");
  free(s);
  json_decref(v);
  ASSERT_TRUE(actor_json_dumps(NULL) == NULL);
}

int main(void) {
  RUN_TEST(test_envelope);
  RUN_TEST(test_case_words);
  RUN_TEST(test_convert_keys);
  RUN_TEST(test_getters);
  RUN_TEST(test_dumps);
  TEST_EXIT();
}
