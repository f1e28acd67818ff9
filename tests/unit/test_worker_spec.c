/* The ContainerCreate body the worker sends for an execution (worker_spec
 * in services/worker/src/spec.c, API.md §4): who the container runs as
 * (the actor's own uid/gid, else [workers] actor_uid/actor_gid, none with
 * use_container_uid), memory and CPU limits (the actor's, else config),
 * the results socket and binary FIFO mounts, never privileged and without
 * the engine's socket unless the actor is privileged, the labels the
 * platform finds its containers by; and the memory size parser. spec.c
 * does no I/O; the test links it from worker_core. */
#include <jansson.h>
#include <string.h>

#include "test.h"
#include "worker.h"

static worker_t config(void) {
  worker_t w;
  memset(&w, 0, sizeof(w));
  snprintf(w.db_id, sizeof(w.db_id), "%s", "TENANT_a1");
  snprintf(w.wid, sizeof(w.wid), "%s", "w1");
  w.host_id = "host7";
  w.exec.mem_bytes = 2LL << 30;
  w.exec.max_cpus = 0;
  w.exec.uid = "1000";
  w.exec.gid = "1001";
  w.network = "";
  w.docker_sock = "/var/run/docker.sock";
  return w;
}

/* The spec of actor (JSON text) with one env entry. */
static json_t *spec_of(const worker_t *w, const char *actor_text, const char *fifo) {
  json_t *actor = test_json(actor_text);
  json_t *env = json_pack("[s]", "MSG=hi");
  worker_spec_in_t in = {.actor = actor,
                         .env = env,
                         .eid = "e1",
                         .results_sock = "/run/sockets/e1.sock",
                         .binary_fifo = fifo};
  json_t *spec = worker_spec(w, &in);
  json_decref(actor);
  return spec;
}

static const char *str_at(const json_t *obj, const char *a, const char *b) {
  const json_t *v = json_object_get(obj, a);
  return json_string_value(b ? json_object_get(v, b) : v);
}

static long long int_at(const json_t *obj, const char *a, const char *b) {
  return (long long)json_integer_value(json_object_get(json_object_get(obj, a), b));
}

static int has_bind(const json_t *spec, const char *bind) {
  const json_t *binds = json_object_get(json_object_get(spec, "HostConfig"), "Binds");
  for (size_t i = 0; i < json_array_size(binds); i++)
    if (strcmp(json_string_value(json_array_get(binds, i)), bind) == 0)
      return 1;
  return 0;
}

static void test_defaults_from_config(void) {
  worker_t w = config();
  json_t *s = spec_of(&w, "{\"image\": \"abaco/samples-echo\"}", NULL);
  ASSERT_TRUE(s != NULL);
  ASSERT_EQ_STR(str_at(s, "Image", NULL), "abaco/samples-echo");
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(s, "Env"), 0)), "MSG=hi");
  ASSERT_EQ_STR(str_at(s, "User", NULL), "1000:1001");
  ASSERT_EQ_INT(int_at(s, "HostConfig", "Memory"), 2LL << 30);
  ASSERT_TRUE(json_object_get(json_object_get(s, "HostConfig"), "NanoCpus") == NULL);
  ASSERT_TRUE(json_is_false(json_object_get(json_object_get(s, "HostConfig"), "Privileged")));
  ASSERT_TRUE(json_is_false(json_object_get(json_object_get(s, "HostConfig"), "AutoRemove")));
  ASSERT_TRUE(json_object_get(json_object_get(s, "HostConfig"), "NetworkMode") == NULL);
  ASSERT_EQ_INT(json_array_size(json_object_get(json_object_get(s, "HostConfig"), "Binds")), 1);
  ASSERT_TRUE(has_bind(s, "/run/sockets/e1.sock:/_abaco_results.sock"));
  ASSERT_EQ_STR(str_at(s, "Labels", "abaco.execution"), "e1");
  ASSERT_EQ_STR(str_at(s, "Labels", "abaco.actor"), "TENANT_a1");
  ASSERT_EQ_STR(str_at(s, "Labels", "abaco.worker"), "w1");
  ASSERT_EQ_STR(str_at(s, "Labels", "abaco.host"), "host7");
  ASSERT_EQ_STR(str_at(s, "Labels", "abaco.platform"), "1");
  json_decref(s);
}

static void test_actor_limits_win(void) {
  worker_t w = config();
  w.exec.max_cpus = 250000000;
  json_t *s =
      spec_of(&w, "{\"image\": \"i\", \"mem_limit\": \"256m\", \"max_cpus\": 500000000}", NULL);
  ASSERT_EQ_INT(int_at(s, "HostConfig", "Memory"), 256LL << 20);
  ASSERT_EQ_INT(int_at(s, "HostConfig", "NanoCpus"), 500000000);
  json_decref(s);
  s = spec_of(&w, "{\"image\": \"i\", \"mem_limit\": null, \"max_cpus\": null}", NULL);
  ASSERT_EQ_INT(int_at(s, "HostConfig", "Memory"), 2LL << 30);
  ASSERT_EQ_INT(int_at(s, "HostConfig", "NanoCpus"), 250000000);
  json_decref(s);
  w.exec.mem_bytes = 0;
  s = spec_of(&w, "{\"image\": \"i\", \"max_cpus\": \"100000000\"}", NULL);
  ASSERT_TRUE(json_object_get(json_object_get(s, "HostConfig"), "Memory") == NULL);
  ASSERT_EQ_INT(int_at(s, "HostConfig", "NanoCpus"), 100000000);
  json_decref(s);
}

static void test_user(void) {
  worker_t w = config();
  json_t *s = spec_of(&w, "{\"image\": \"i\", \"use_container_uid\": true}", NULL);
  ASSERT_TRUE(json_object_get(s, "User") == NULL);
  json_decref(s);
  /* The actor's own ids come first. */
  s = spec_of(&w, "{\"image\": \"i\", \"uid\": 5, \"gid\": \"6\"}", NULL);
  ASSERT_EQ_STR(str_at(s, "User", NULL), "5:6");
  json_decref(s);
  s = spec_of(&w, "{\"image\": \"i\", \"uid\": null, \"gid\": null}", NULL);
  ASSERT_EQ_STR(str_at(s, "User", NULL), "1000:1001");
  json_decref(s);
  w.exec.gid = "";
  s = spec_of(&w, "{\"image\": \"i\"}", NULL);
  ASSERT_EQ_STR(str_at(s, "User", NULL), "1000");
  json_decref(s);
  w.exec.uid = "";
  s = spec_of(&w, "{\"image\": \"i\"}", NULL);
  ASSERT_TRUE(json_object_get(s, "User") == NULL);
  json_decref(s);
}

static void test_privileged_gets_the_engine(void) {
  worker_t w = config();
  json_t *s = spec_of(&w, "{\"image\": \"i\", \"privileged\": true}", NULL);
  ASSERT_TRUE(json_is_true(json_object_get(json_object_get(s, "HostConfig"), "Privileged")));
  ASSERT_TRUE(has_bind(s, "/var/run/docker.sock:/var/run/docker.sock"));
  json_decref(s);
  w.docker_sock = "/srv/engine.sock";
  s = spec_of(&w, "{\"image\": \"i\", \"privileged\": true}", NULL);
  ASSERT_TRUE(has_bind(s, "/srv/engine.sock:/var/run/docker.sock"));
  json_decref(s);
  s = spec_of(&w, "{\"image\": \"i\", \"privileged\": false}", NULL);
  ASSERT_TRUE(!has_bind(s, "/srv/engine.sock:/var/run/docker.sock"));
  json_decref(s);
}

static void test_binary_fifo_and_network(void) {
  worker_t w = config();
  w.network = "abaco_net";
  json_t *s = spec_of(&w, "{\"image\": \"i\"}", "/run/fifos/e1");
  ASSERT_TRUE(has_bind(s, "/run/fifos/e1:/_abaco_binary_data"));
  ASSERT_TRUE(has_bind(s, "/run/sockets/e1.sock:/_abaco_results.sock"));
  ASSERT_EQ_STR(str_at(s, "HostConfig", "NetworkMode"), "abaco_net");
  json_decref(s);
}

int main(void) {
  RUN_TEST(test_defaults_from_config);
  RUN_TEST(test_actor_limits_win);
  RUN_TEST(test_user);
  RUN_TEST(test_privileged_gets_the_engine);
  RUN_TEST(test_binary_fifo_and_network);
  TEST_EXIT();
}
