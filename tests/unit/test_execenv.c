/* The environment of an actor container (actor_execenv_build, docs/api.md "What a container sees"):
 * the exact order and override rules (default_environment < the message's
 * query parameters < MSG < _abaco_*), a JSON message and non-string
 * default_environment values rendered the way Python's str() prints them,
 * no MSG for a binary message, invalid names skipped, every _abaco_*
 * variable present once with its value, _abaco_access_token only when
 * given, _actor_configs defaulting to "{}", and odd inputs (no
 * default_environment, values holding '=', no metadata). No I/O. */
#include <jansson.h>

#include "actor/errors.h"
#include "actor/execenv.h"
#include "test.h"

static json_t *J(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  if (v == NULL)
    fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
  return v;
}

/* Index of variable name in env ("NAME=value" strings), -1 if absent. */
static int env_index(const json_t *env, const char *name) {
  size_t nlen = strlen(name);
  for (size_t i = 0; i < json_array_size(env); i++) {
    const char *kv = json_string_value(json_array_get(env, i));
    if (kv && strncmp(kv, name, nlen) == 0 && kv[nlen] == '=')
      return (int)i;
  }
  return -1;
}

static const char *env_get(const json_t *env, const char *name) {
  int i = env_index(env, name);
  return i < 0 ? NULL : json_string_value(json_array_get(env, (size_t)i)) + strlen(name) + 1;
}

/* Every entry is NAME=value with a non-empty name, and no name twice. */
static int env_well_formed(const json_t *env) {
  for (size_t i = 0; i < json_array_size(env); i++) {
    const char *kv = json_string_value(json_array_get(env, i));
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (eq == NULL || eq == kv)
      return 0;
    for (size_t j = 0; j < i; j++) {
      const char *other = json_string_value(json_array_get(env, j));
      if (strncmp(other, kv, (size_t)(eq - kv) + 1) == 0)
        return 0;
    }
  }
  return 1;
}

static json_t *actor_json(void) {
  return J("{\"id\": \"oA4rZ5m\", \"db_id\": \"TACC_oA4rZ5m\", \"image\": \"me/echo:1\","
           " \"name\": \"echo actor\", \"tenant\": \"TACC\", \"owner\": \"jdoe\","
           " \"default_environment\": {"
           "   \"A\": \"alpha\", \"N\": 5, \"F\": 1.5, \"BIG\": 1e100, \"B\": true,"
           "   \"Z\": null, \"L\": [1, \"x\", false], \"O\": {\"k\": \"v\", \"it's\": [null]},"
           "   \"OVER\": \"from default\", \"MSG\": \"from default\","
           "   \"_abaco_actor_id\": \"forged\", \"_actor_configs\": \"forged\","
           "   \"bad=name\": \"x\", \"\": \"empty name\", \"EQ\": \"a=b=c\","
           "   \"U\": \"gr\\u00fc\\u00df \\u2603\"}}");
}

static json_t *meta_json(void) {
  return J("{\"message\": \"ignored here\", \"_abaco_execution_id\": \"E9xK2\","
           " \"_abaco_Content_Type\": \"application/json\", \"_abaco_actor_revision\": 3,"
           " \"_abaco_username\": \"jdoe\", \"_abaco_api_server\": \"https://api.example.org\","
           " \"OVER\": \"from query\", \"Q\": \"q\", \"QN\": 7, \"MSG\": \"from query\","
           " \"bad=q\": \"x\", \"_abaco_worker_id\": \"forged\"}");
}

static void test_order_and_overrides(void) {
  json_t *actor = actor_json(), *meta = meta_json();
  json_t *msg = J("{\"a\": 1, \"b\": [true, null, 2.5], \"s\": \"it's\", \"t\": \"x\"}");
  json_t *env = NULL;
  actor_execenv_in_t in = {.actor = actor,
                           .meta = meta,
                           .message = msg,
                           .worker_id = "W7q",
                           .access_token = "tok-123",
                           .configs = "{\"c\": 1}"};
  ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
  ASSERT_TRUE(json_is_array(env));
  ASSERT_TRUE(env_well_formed(env));

  /* the whole list, in order: defaults (an overridden name moves to where
   * it was last set), then query parameters, MSG, the _abaco_ variables */
  static const char *const want[] = {
      "A=alpha",
      "N=5",
      "F=1.5",
      "BIG=1e+100",
      "B=True",
      "Z=None",
      "L=[1, 'x', False]",
      "O={'k': 'v', \"it's\": [None]}",
      "EQ=a=b=c",
      "U=gr\xc3\xbc\xc3\x9f \xe2\x98\x83",
      "OVER=from query",
      "Q=q",
      "QN=7",
      "MSG={'a': 1, 'b': [True, None, 2.5], 's': \"it's\", 't': 'x'}",
      "_abaco_execution_id=E9xK2",
      "_abaco_actor_id=oA4rZ5m",
      "_abaco_actor_dbid=TACC_oA4rZ5m",
      "_abaco_worker_id=W7q",
      "_abaco_container_repo=me/echo:1",
      "_abaco_actor_name=echo actor",
      "_abaco_actor_state={}",
      "_abaco_username=jdoe",
      "_abaco_api_server=https://api.example.org",
      "_abaco_Content_Type=application/json",
      "_abaco_jwt_header_name=X-Jwt-Assertion-TACC",
      "_abaco_access_token=tok-123",
      "_actor_configs={\"c\": 1}",
  };
  size_t n = sizeof(want) / sizeof(want[0]);
  ASSERT_EQ_INT(json_array_size(env), n);
  for (size_t i = 0; i < n && i < json_array_size(env); i++)
    ASSERT_EQ_STR(json_string_value(json_array_get(env, i)), want[i]);

  /* the rules, stated one by one */
  ASSERT_EQ_STR(env_get(env, "OVER"), "from query");        /* query > default */
  ASSERT_TRUE(env_index(env, "A") < env_index(env, "Q"));   /* defaults first */
  ASSERT_TRUE(env_index(env, "Q") < env_index(env, "MSG")); /* then the query */
  ASSERT_TRUE(env_index(env, "MSG") < env_index(env, "_abaco_execution_id"));
  ASSERT_EQ_STR(env_get(env, "_abaco_actor_id"), "oA4rZ5m"); /* nothing overrides */
  ASSERT_EQ_STR(env_get(env, "_abaco_worker_id"), "W7q");
  ASSERT_EQ_STR(env_get(env, "_actor_configs"), "{\"c\": 1}");
  /* metadata that is not a query parameter stays out */
  ASSERT_EQ_INT(env_index(env, "message"), -1);
  ASSERT_EQ_INT(env_index(env, "_abaco_actor_revision"), -1);
  /* invalid names are skipped */
  ASSERT_EQ_INT(env_index(env, "bad"), -1);
  ASSERT_EQ_INT(env_index(env, ""), -1);
  json_decref(env);
  json_decref(msg);
  json_decref(meta);
  json_decref(actor);
}

/* A string message goes in as is; a scalar JSON message Python-style. */
static void test_message_forms(void) {
  json_t *actor = actor_json(), *meta = J("{\"_abaco_execution_id\": \"E1\"}");
  struct {
    const char *msg, *want;
  } cases[] = {
      {"\"hello world\"", "hello world"},
      {"\"it's \\\"q\\\"\"", "it's \"q\""},
      {"42", "42"},
      {"0.1", "0.1"},
      {"true", "True"},
      {"null", "None"},
      {"[]", "[]"},
      {"{}", "{}"},
      {"[{\"x\": \"\\n\"}]", "[{'x': '\\n'}]"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *msg = J(cases[i].msg), *env = NULL;
    actor_execenv_in_t in = {.actor = actor, .meta = meta, .message = msg, .worker_id = "w"};
    ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
    ASSERT_EQ_STR(env_get(env, "MSG"), cases[i].want);
    /* no content type in the metadata: "str" */
    ASSERT_EQ_STR(env_get(env, "_abaco_Content_Type"), "str");
    json_decref(env);
    json_decref(msg);
  }
  json_decref(meta);
  json_decref(actor);
}

static void test_binary_message(void) {
  json_t *actor = actor_json(), *env = NULL;
  json_t *meta = J("{\"_abaco_execution_id\": \"E2\", \"_abaco_Content_Type\":"
                   " \"application/octet-stream\", \"_abaco_username\": \"u\"}");
  actor_execenv_in_t in = {.actor = actor, .meta = meta, .message = NULL, .worker_id = "w"};
  json_object_del(json_object_get(actor, "default_environment"), "MSG");
  ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
  ASSERT_EQ_INT(env_index(env, "MSG"), -1);
  ASSERT_EQ_STR(env_get(env, "_abaco_Content_Type"), "application/octet-stream");
  ASSERT_EQ_STR(env_get(env, "_abaco_execution_id"), "E2");
  ASSERT_EQ_STR(env_get(env, "A"), "alpha");
  ASSERT_TRUE(env_well_formed(env));
  json_decref(env);
  json_decref(meta);
  json_decref(actor);
}

/* Every _abaco_* variable, once, with its value; the token only if given. */
static void test_abaco_variables(void) {
  json_t *actor = J("{\"id\": \"X1\", \"db_id\": \"DEV_X1\", \"image\": \"img\","
                    " \"name\": \"n\", \"tenant\": \"DEV\", \"state\": {\"count\": 2}}");
  json_t *meta = J("{\"_abaco_execution_id\": \"E3\", \"_abaco_username\": \"bob\","
                   " \"_abaco_api_server\": \"http://localhost:8000\","
                   " \"_abaco_Content_Type\": \"str\"}");
  json_t *msg = json_string("m"), *env = NULL;
  actor_execenv_in_t in = {.actor = actor, .meta = meta, .message = msg, .worker_id = "W1"};
  ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
  static const char *const names[] = {
      "_abaco_execution_id",   "_abaco_actor_id",     "_abaco_actor_dbid",      "_abaco_worker_id",
      "_abaco_container_repo", "_abaco_actor_name",   "_abaco_actor_state",     "_abaco_username",
      "_abaco_api_server",     "_abaco_Content_Type", "_abaco_jwt_header_name", "_actor_configs"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    ASSERT_TRUE(env_index(env, names[i]) >= 0);
  ASSERT_TRUE(env_well_formed(env));
  ASSERT_EQ_INT(json_array_size(env), 13); /* the 12 above and MSG */
  ASSERT_EQ_STR(env_get(env, "_abaco_execution_id"), "E3");
  ASSERT_EQ_STR(env_get(env, "_abaco_actor_id"), "X1");
  ASSERT_EQ_STR(env_get(env, "_abaco_actor_dbid"), "DEV_X1");
  ASSERT_EQ_STR(env_get(env, "_abaco_worker_id"), "W1");
  ASSERT_EQ_STR(env_get(env, "_abaco_container_repo"), "img");
  ASSERT_EQ_STR(env_get(env, "_abaco_actor_name"), "n");
  ASSERT_EQ_STR(env_get(env, "_abaco_username"), "bob");
  ASSERT_EQ_STR(env_get(env, "_abaco_api_server"), "http://localhost:8000");
  ASSERT_EQ_STR(env_get(env, "_abaco_Content_Type"), "str");
  ASSERT_EQ_STR(env_get(env, "_abaco_jwt_header_name"), "X-Jwt-Assertion-DEV");
  ASSERT_EQ_STR(env_get(env, "_actor_configs"), "{}");
  ASSERT_EQ_STR(env_get(env, "MSG"), "m");
  ASSERT_EQ_INT(env_index(env, "_abaco_access_token"), -1);
  /* the state is passed as its JSON text */
  json_t *st = J(env_get(env, "_abaco_actor_state"));
  ASSERT_TRUE(st != NULL && json_equal(st, json_object_get(actor, "state")));
  json_decref(st);
  json_decref(env);

  /* with a token and configs; a null state is "{}" */
  json_object_set_new(actor, "state", json_null());
  in.access_token = "secret-token";
  in.configs = "{\"k\": \"v\"}";
  ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
  ASSERT_EQ_STR(env_get(env, "_abaco_access_token"), "secret-token");
  ASSERT_EQ_STR(env_get(env, "_actor_configs"), "{\"k\": \"v\"}");
  ASSERT_EQ_STR(env_get(env, "_abaco_actor_state"), "{}");
  ASSERT_EQ_INT(json_array_size(env), 14);
  json_decref(env);
  json_decref(msg);
  json_decref(meta);
  json_decref(actor);
}

/* Thin inputs: no default_environment, a non-object one, no metadata. */
static void test_sparse_inputs(void) {
  json_t *actor = J("{\"id\": \"I\", \"db_id\": \"T_I\", \"tenant\": \"T\","
                    " \"default_environment\": \"not an object\"}");
  json_t *env = NULL;
  actor_execenv_in_t in = {.actor = actor, .meta = NULL, .message = NULL, .worker_id = "w"};
  ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
  ASSERT_TRUE(env_well_formed(env));
  ASSERT_EQ_INT(json_array_size(env), 12); /* the _abaco_ variables and _actor_configs */
  ASSERT_EQ_STR(env_get(env, "_abaco_execution_id"), "");
  ASSERT_EQ_STR(env_get(env, "_abaco_container_repo"), "");
  ASSERT_EQ_STR(env_get(env, "_abaco_Content_Type"), "str");
  ASSERT_EQ_STR(env_get(env, "_abaco_actor_state"), "{}");
  ASSERT_EQ_STR(json_string_value(json_array_get(env, 0)), "_abaco_execution_id=");
  json_decref(env);

  json_object_del(actor, "default_environment");
  json_t *meta = J("{\"P\": \"p\"}");
  in.meta = meta;
  ASSERT_EQ_INT(actor_execenv_build(&in, &env), 0);
  ASSERT_EQ_STR(json_string_value(json_array_get(env, 0)), "P=p");
  ASSERT_EQ_INT(json_array_size(env), 13);
  json_decref(env);
  json_decref(meta);
  json_decref(actor);
}

int main(void) {
  RUN_TEST(test_order_and_overrides);
  RUN_TEST(test_message_forms);
  RUN_TEST(test_binary_message);
  RUN_TEST(test_abaco_variables);
  RUN_TEST(test_sparse_inputs);
  TEST_EXIT();
}
