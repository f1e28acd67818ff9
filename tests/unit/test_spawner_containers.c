/* The docker backend's worker container (services/spawner/src/
 * containers.c): what spawner__worker_spec asks the engine for, without an
 * engine. The environment passes on the config overrides only (not PATH,
 * not the spawner's own directory variables, which are replaced by the
 * absolute ones), the bind mounts are host path = container path, the
 * labels name the worker, and the container runs as the spawner's user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/json.h"
#include "spawner.h"
#include "test.h"

static spawner_t sp;

static void setup(const char *network) {
  memset(&sp, 0, sizeof(sp));
  sp.host_id = "h1";
  sp.worker_image = "abaco/core:test";
  sp.worker_network = network;
  sp.conf_host_path = "/host/abaco.conf";
  snprintf(sp.socket_dir, sizeof(sp.socket_dir), "/srv/sockets");
  snprintf(sp.fifo_dir, sizeof(sp.fifo_dir), "/srv/fifos");
  ASSERT_EQ_INT(dkr_new("unix:///nonexistent/abaco-test.sock", &sp.docker), 0);
}

/* How many strings of arr equal s. */
static int count(const json_t *arr, const char *s) {
  int n = 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) n += json_string_value(v) && strcmp(json_string_value(v), s) == 0;
  return n;
}

/* How many strings of arr start with prefix. */
static int count_prefix(const json_t *arr, const char *prefix) {
  int n = 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    const char *s = json_string_value(v);
    n += s && strncmp(s, prefix, strlen(prefix)) == 0;
  }
  return n;
}

static void test_environment_passes_the_config_overrides_only(void) {
  setup("host");
  ASSERT_EQ_INT(setenv("store_redis_port", "6390", 1), 0);
  ASSERT_EQ_INT(setenv("SPAWNER_HOST_ID", "h1", 1), 0);
  ASSERT_EQ_INT(setenv("logs_directory", "/somewhere", 1), 0);
  ASSERT_EQ_INT(setenv("WORKERS_SOCKET_HOST_PATH_DIR", "relative/dir", 1), 0);
  ASSERT_EQ_INT(setenv("nosuchsection_key", "x", 1), 0);
  /* Only the exact forms the config reader looks up, of known keys. */
  ASSERT_EQ_INT(setenv("DOCKER_HOST", "tcp://elsewhere:2375", 1), 0);
  ASSERT_EQ_INT(setenv("Store_redis_host", "mixed", 1), 0);
  ASSERT_EQ_INT(setenv("STORE_redis_db", "3", 1), 0);
  ASSERT_EQ_INT(setenv("store_nosuchkey", "x", 1), 0);
  ASSERT_EQ_INT(setenv("STORE_MONGO_PORT", "27018", 1), 0);
  ASSERT_EQ_INT(setenv("cloud_tokens_mytoken", "t", 1), 0);
  json_t *spec = spawner__worker_spec(&sp, "T_a1", "w1", "tok", 1234);
  ASSERT_TRUE(spec != NULL);
  const json_t *env = json_object_get(spec, "Env");
  ASSERT_EQ_INT(count(env, "store_redis_port=6390"), 1);
  ASSERT_EQ_INT(count(env, "SPAWNER_HOST_ID=h1"), 1);
  ASSERT_EQ_INT(count_prefix(env, "PATH="), 0);
  ASSERT_EQ_INT(count_prefix(env, "nosuchsection_"), 0);
  ASSERT_EQ_INT(count_prefix(env, "DOCKER_HOST="), 0);
  ASSERT_EQ_INT(count_prefix(env, "Store_redis_host="), 0);
  ASSERT_EQ_INT(count_prefix(env, "STORE_redis_db="), 0);
  ASSERT_EQ_INT(count_prefix(env, "store_nosuchkey="), 0);
  ASSERT_EQ_INT(count(env, "STORE_MONGO_PORT=27018"), 1);
  ASSERT_EQ_INT(count(env, "cloud_tokens_mytoken=t"), 1);
  ASSERT_EQ_INT(count_prefix(env, "WORKERS_SOCKET_HOST_PATH_DIR="), 0);
  ASSERT_EQ_INT(count(env, "workers_socket_host_path_dir=/srv/sockets"), 1);
  ASSERT_EQ_INT(count(env, "workers_fifo_host_path_dir=/srv/fifos"), 1);
  ASSERT_EQ_INT(count_prefix(env, "logs_directory="), 1);
  ASSERT_EQ_INT(count(env, "logs_directory="), 1);
  ASSERT_EQ_INT(count(env, "ABACO_WORKER_ACCESS_TOKEN=tok"), 1);
  ASSERT_EQ_INT(count(env, "ABACO_WORKER_ACCESS_TOKEN_EXPIRES=1234"), 1);
  json_decref(spec);

  /* No token: no token variables. */
  spec = spawner__worker_spec(&sp, "T_a1", "w1", NULL, 0);
  ASSERT_TRUE(spec != NULL);
  ASSERT_EQ_INT(count_prefix(json_object_get(spec, "Env"), "ABACO_WORKER_ACCESS_TOKEN"), 0);
  json_decref(spec);
  dkr_free(sp.docker);
}

static void test_command_mounts_labels_and_user(void) {
  setup("host");
  snprintf(sp.logs_dir, sizeof(sp.logs_dir), "/srv/log");
  json_t *spec = spawner__worker_spec(&sp, "T_a1", "w1", NULL, 0);
  ASSERT_TRUE(spec != NULL);
  ASSERT_EQ_STR(actor_json_str(spec, "Image", ""), "abaco/core:test");
  const json_t *cmd = json_object_get(spec, "Cmd");
  ASSERT_EQ_INT((int)json_array_size(cmd), 6);
  const char *want[] = {"worker", "-c", SPAWNER_WORKER_CONF, "--", "T_a1", "w1"};
  for (size_t i = 0; i < 6; i++)
    ASSERT_EQ_STR(json_string_value(json_array_get(cmd, i)), want[i]);
  char user[64];
  snprintf(user, sizeof(user), "%u:%u", (unsigned)getuid(), (unsigned)getgid());
  ASSERT_EQ_STR(actor_json_str(spec, "User", ""), user);
  const json_t *labels = json_object_get(spec, "Labels");
  ASSERT_EQ_STR(actor_json_str(labels, "abaco.platform", ""), "1");
  ASSERT_EQ_STR(actor_json_str(labels, "abaco.role", ""), "worker");
  ASSERT_EQ_STR(actor_json_str(labels, "abaco.host", ""), "h1");
  ASSERT_EQ_STR(actor_json_str(labels, "abaco.actor", ""), "T_a1");
  ASSERT_EQ_STR(actor_json_str(labels, "abaco.worker", ""), "w1");
  ASSERT_TRUE(json_object_get(labels, "abaco.execution") == NULL);
  const json_t *host = json_object_get(spec, "HostConfig");
  ASSERT_EQ_STR(actor_json_str(host, "NetworkMode", ""), "host");
  const json_t *binds = json_object_get(host, "Binds");
  ASSERT_EQ_INT((int)json_array_size(binds), 5);
  ASSERT_EQ_INT(count(binds, "/host/abaco.conf:" SPAWNER_WORKER_CONF ":ro"), 1);
  ASSERT_EQ_INT(count(binds, "/srv/sockets:/srv/sockets"), 1);
  ASSERT_EQ_INT(count(binds, "/srv/fifos:/srv/fifos"), 1);
  ASSERT_EQ_INT(count(binds, "/srv/log:/srv/log"), 1);
  ASSERT_EQ_INT(count(binds, "/nonexistent/abaco-test.sock:/nonexistent/abaco-test.sock"), 1);
  /* The socket does not exist here: no group to add. */
  ASSERT_EQ_INT((int)json_array_size(json_object_get(host, "GroupAdd")), 0);
  ASSERT_EQ_INT(count(json_object_get(spec, "Env"), "logs_directory=/srv/log"), 1);
  json_decref(spec);
  dkr_free(sp.docker);
}

static void test_empty_network_is_the_engines_default(void) {
  setup("");
  json_t *spec = spawner__worker_spec(&sp, "T_a1", "w1", NULL, 0);
  ASSERT_TRUE(spec != NULL);
  ASSERT_TRUE(json_object_get(json_object_get(spec, "HostConfig"), "NetworkMode") == NULL);
  json_decref(spec);
  dkr_free(sp.docker);
}

int main(void) {
  RUN_TEST(test_environment_passes_the_config_overrides_only);
  RUN_TEST(test_command_mounts_labels_and_user);
  RUN_TEST(test_empty_network_is_the_engines_default);
  TEST_EXIT();
}
