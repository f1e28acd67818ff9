/* Tests the Docker client against the real engine (DOCKER_HOST) with the
 * sample actor images built by scripts/samples.sh (`make samples`): the
 * whole life of an execution's container (create, start, wait, logs,
 * inspect, stats and their totals, remove), exit codes, stderr in the logs,
 * a wait timeout and kill, create errors, and calls from several threads at
 * once. Skipped when DOCKER_HOST is unset; an unreachable engine or a
 * missing image is a failure. Every container carries the label
 * abaco.test=1 and is removed at exit, whatever failed. */
#include <pthread.h>
#include <stdint.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "actor/docker.h"
#include "actor/errors.h"
#include "test.h"

#define ECHO_IMAGE "abaco/samples-echo:latest"
#define EXIT_IMAGE "abaco/samples-exit:latest"
#define SLEEP_IMAGE "abaco/samples-sleep:latest"

static dkr_t *d;
static const char *dd;

/* Containers to remove at exit. */
static pthread_mutex_t created_lock = PTHREAD_MUTEX_INITIALIZER;
static char *created[64];
static int ncreated;

#define ASSERT_OK(call, err)                                                                  \
  do {                                                                                        \
    int test__rc = (call);                                                                    \
    if (test__rc != 0)                                                                        \
      fprintf(stderr, "  %s: %s (%s)\n", #call, actor_strerror(test__rc),                    \
              (err) ? (err) : "no message");                                                  \
    free(err);                                                                                \
    (err) = NULL;                                                                             \
    ASSERT_EQ_INT(test__rc, 0);                                                               \
  } while (0)

/* Creates a labelled container of image with MSG=msg (NULL: none), noted
 * for removal at exit. name may be NULL. No assertions: threads call it. */
static int create_c(const char *image, const char *msg, const char *name, char **id,
                    char **err) {
  json_t *env = json_array();
  if (msg)
    json_array_append_new(env, json_sprintf("MSG=%s", msg));
  json_t *spec = json_pack("{s:s, s:o, s:{s:s}}", "Image", image, "Env", env, "Labels",
                           "abaco.test", "1");
  int rc = dkr_container_create(d, name, spec, id, err);
  json_decref(spec);
  if (rc == 0) {
    pthread_mutex_lock(&created_lock);
    if (ncreated < (int)(sizeof created / sizeof *created))
      created[ncreated++] = strdup(*id);
    pthread_mutex_unlock(&created_lock);
  }
  return rc;
}

/* create_c that asserts; the id (malloc'd) or NULL. */
static char *create(const char *image, const char *msg, const char *name) {
  char *id = NULL, *err = NULL;
  ASSERT_OK(create_c(image, msg, name, &id, &err), err);
  return id;
}

static void remove_all(void) {
  for (int i = 0; i < ncreated; i++) {
    char *err = NULL;
    int rc = dkr_container_remove(d, created[i], &err);
    if (rc != 0)
      fprintf(stderr, "cleanup: removing %.12s: %s (%s)\n", created[i], actor_strerror(rc),
              err ? err : "");
    free(err);
    free(created[i]);
  }
  ncreated = 0;
}

/* Returns the logs (malloc'd), NULL on failure (reported). */
static char *logs(const char *id, size_t max, int *truncated) {
  char *out = NULL, *err = NULL;
  size_t len = 0;
  int t = 0;
  ASSERT_OK(dkr_container_logs(d, id, max, &out, &len, &t, &err), err);
  if (out)
    ASSERT_EQ_INT(strlen(out), len);
  if (truncated)
    *truncated = t;
  return out;
}

static int64_t run_to_end(const char *id) {
  char *err = NULL;
  int64_t code = -1;
  ASSERT_OK(dkr_container_start(d, id, &err), err);
  ASSERT_OK(dkr_container_wait(d, id, 30000, &code, &err), err);
  return code;
}

static const char *const images[] = {ECHO_IMAGE, EXIT_IMAGE, SLEEP_IMAGE};

/* Setup: the engine answers and has the sample images. */
static void need_engine(void) {
  char *err = NULL;
  int rc = dkr_ping(d, &err);
  if (rc != 0)
    fprintf(stderr, "the Docker engine at %s is not reachable (%s): start dockerd\n", dd,
            err ? err : actor_strerror(rc));
  free(err);
  ASSERT_EQ_INT(rc, 0);
  for (size_t i = 0; rc == 0 && i < sizeof images / sizeof *images; i++) {
    json_t *img = NULL;
    rc = dkr_image_inspect(d, images[i], &img, &err);
    if (rc != 0)
      fprintf(stderr, "sample image %s is missing (%s): build it with scripts/samples.sh "
              "(make samples)\n", images[i], err ? err : actor_strerror(rc));
    json_decref(img);
    free(err);
    err = NULL;
    ASSERT_EQ_INT(rc, 0);
  }
}

static void test_images(void) {
  json_t *img = NULL;
  char *err = NULL;
  for (size_t i = 0; i < sizeof images / sizeof *images; i++) {
    ASSERT_OK(dkr_image_inspect(d, images[i], &img, &err), err);
    const char *id = json_string_value(json_object_get(img, "Id"));
    ASSERT_TRUE(id != NULL && strncmp(id, "sha256:", 7) == 0);
    json_decref(img);
  }
  ASSERT_EQ_INT(dkr_image_inspect(d, "abaco/samples-no-such-image:latest", &img, &err),
                ACTOR_ENOTFOUND);
  ASSERT_TRUE(img == NULL);
  ASSERT_TRUE(err != NULL && strstr(err, "No such image") != NULL);
  free(err);
}

static void test_echo_lifecycle(void) {
  char *id = create(ECHO_IMAGE, "hello", NULL), *err = NULL;
  if (!id)
    return;
  ASSERT_EQ_INT(run_to_end(id), 0);

  int truncated = -1;
  char *out = logs(id, 0, &truncated);
  ASSERT_TRUE(out && strstr(out, "Contents of MSG: hello\n") == out);
  ASSERT_TRUE(out && strstr(out, "\nMSG=hello\n") != NULL);
  ASSERT_EQ_INT(truncated, 0);
  free(out);
  out = logs(id, 10, &truncated);
  ASSERT_EQ_STR(out, "Contents o");
  ASSERT_EQ_INT(truncated, 1);
  free(out);

  json_t *info = NULL;
  ASSERT_OK(dkr_container_inspect(d, id, &info, &err), err);
  const json_t *state = json_object_get(info, "State");
  ASSERT_EQ_STR(json_string_value(json_object_get(state, "Status")), "exited");
  ASSERT_EQ_INT(json_integer_value(json_object_get(state, "ExitCode")), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(
                    json_object_get(json_object_get(info, "Config"), "Labels"), "abaco.test")),
                "1");
  json_decref(info);

  /* Exited: the engine reports no usage (its "read" time is the zero
   * time), and the totals are 0. */
  json_t *stats = NULL;
  ASSERT_OK(dkr_container_stats(d, id, &stats, &err), err);
  ASSERT_TRUE(json_is_object(stats));
  ASSERT_EQ_STR(json_string_value(json_object_get(stats, "read")), "0001-01-01T00:00:00Z");
  int64_t cpu = -1, io = -1;
  dkr_stats_totals(stats, &cpu, &io);
  ASSERT_EQ_INT(cpu, 0);
  ASSERT_EQ_INT(io, 0);
  json_decref(stats);

  json_t *list = NULL;
  ASSERT_OK(dkr_container_list(d, "{\"label\":[\"abaco.test=1\"]}", 1, &list, &err), err);
  int found = 0;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    if (strcmp(json_string_value(json_object_get(c, "Id")) ?: "", id) == 0)
      found = 1;
  }
  ASSERT_TRUE(found);
  json_decref(list);

  ASSERT_OK(dkr_container_remove(d, id, &err), err);
  ASSERT_OK(dkr_container_remove(d, id, &err), err); /* not found = success */
  ASSERT_EQ_INT(dkr_container_inspect(d, id, &info, &err), ACTOR_ENOTFOUND);
  ASSERT_TRUE(info == NULL);
  ASSERT_TRUE(err != NULL && strstr(err, "No such container") != NULL);
  free(err);
  err = NULL;
  char *none = NULL;
  size_t len = 0;
  ASSERT_EQ_INT(dkr_container_logs(d, id, 0, &none, &len, NULL, &err), ACTOR_ENOTFOUND);
  ASSERT_TRUE(none == NULL);
  free(err);
  free(id);
}

/* Exit codes pass through; stderr is in the logs with stdout. */
static void test_exit_codes_and_stderr(void) {
  char *id = create(EXIT_IMAGE, "3", NULL);
  if (id) {
    ASSERT_EQ_INT(run_to_end(id), 3);
    char *out = logs(id, 0, NULL);
    ASSERT_EQ_STR(out, "exit: code 3\n");
    free(out);
    free(id);
  }
  id = create(EXIT_IMAGE, "oops", NULL);
  if (id) {
    ASSERT_EQ_INT(run_to_end(id), 1);
    char *out = logs(id, 0, NULL);
    /* Both streams; their relative order is the engine's to pick (it reads
     * two pipes), so only presence is checked. */
    ASSERT_TRUE(out && strstr(out, "exit: bad MSG 'oops', want 0..255\n") != NULL);
    ASSERT_TRUE(out && strstr(out, "exit: code 1\n") != NULL);
    ASSERT_EQ_INT(out ? strlen(out) : 0, strlen("exit: bad MSG 'oops', want 0..255\nexit: code 1\n"));
    free(out);
    free(id);
  }
}

/* The engine's own figures in a stats object, read here without
 * dkr_stats_totals: cpu_stats.cpu_usage.total_usage (-1 when it is not an
 * integer) and the sum of the read and write entries of
 * blkio_stats.io_service_bytes_recursive (an empty list or null when there
 * was no block I/O, as for the sleep image here). */
static long long engine_cpu(const json_t *stats) {
  const json_t *v =
      json_object_get(json_object_get(json_object_get(stats, "cpu_stats"), "cpu_usage"),
                      "total_usage");
  if (!json_is_integer(v))
    fprintf(stderr, "  no integer cpu_stats.cpu_usage.total_usage in the stats\n");
  return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static long long engine_io(const json_t *stats) {
  const json_t *list =
      json_object_get(json_object_get(stats, "blkio_stats"), "io_service_bytes_recursive");
  long long sum = 0;
  size_t i;
  const json_t *e;
  ASSERT_TRUE(json_is_array(list) || json_is_null(list));
  json_array_foreach(list, i, e) {
    const char *op = json_string_value(json_object_get(e, "op"));
    ASSERT_TRUE(op != NULL && json_is_integer(json_object_get(e, "value")));
    if (strcasecmp(op, "read") == 0 || strcasecmp(op, "write") == 0)
      sum += (long long)json_integer_value(json_object_get(e, "value"));
  }
  return sum;
}

static void test_wait_timeout_and_kill(void) {
  char *id = create(SLEEP_IMAGE, "30", NULL), *err = NULL;
  if (!id)
    return;
  ASSERT_OK(dkr_container_start(d, id, &err), err);
  ASSERT_OK(dkr_container_start(d, id, &err), err); /* already started: fine */
  int64_t code = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ASSERT_EQ_INT(dkr_container_wait(d, id, 300, &code, &err), ACTOR_ETIMEDOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  ASSERT_TRUE(ms >= 250 && ms < 5000);
  free(err);
  err = NULL;

  /* Running: the engine reports real usage, and the totals are its
   * figures. */
  json_t *stats = NULL;
  ASSERT_OK(dkr_container_stats(d, id, &stats, &err), err);
  int64_t cpu = -1, io = -1;
  dkr_stats_totals(stats, &cpu, &io);
  ASSERT_TRUE(cpu > 0);
  ASSERT_EQ_INT(cpu, engine_cpu(stats));
  ASSERT_EQ_INT(io, engine_io(stats));
  json_decref(stats);

  ASSERT_OK(dkr_container_kill(d, id, "SIGKILL", &err), err);
  ASSERT_OK(dkr_container_wait(d, id, 10000, &code, &err), err);
  ASSERT_EQ_INT(code, 137);
  /* Not running any more: the engine refuses with a message. */
  ASSERT_EQ_INT(dkr_container_kill(d, id, NULL, &err), ACTOR_EDOCKER);
  ASSERT_TRUE(err != NULL && strstr(err, "is not running") != NULL);
  free(err);
  char *out = logs(id, 0, NULL);
  ASSERT_EQ_STR(out, "sleep: start 30 s\n");
  free(out);
  free(id);
}

static void test_create_errors(void) {
  char *id = NULL, *err = NULL;
  json_t *spec = json_pack("{s:s, s:{s:s}}", "Image", "abaco/samples-no-such-image:latest",
                           "Labels", "abaco.test", "1");
  ASSERT_EQ_INT(dkr_container_create(d, NULL, spec, &id, &err), ACTOR_ENOTFOUND);
  ASSERT_TRUE(id == NULL && err != NULL);
  free(err);
  err = NULL;
  json_decref(spec);

  char name[64];
  snprintf(name, sizeof name, "abaco-test-dkr-%d-%ld", (int)getpid(), (long)time(NULL));
  char *first = create(ECHO_IMAGE, "x", name);
  ASSERT_TRUE(first != NULL);
  spec = json_pack("{s:s, s:{s:s}}", "Image", ECHO_IMAGE, "Labels", "abaco.test", "1");
  ASSERT_EQ_INT(dkr_container_create(d, name, spec, &id, &err), ACTOR_EEXIST);
  ASSERT_TRUE(id == NULL && err != NULL && strstr(err, "already in use") != NULL);
  free(err);
  err = NULL;
  json_decref(spec);
  /* A name works wherever an id does. */
  json_t *info = NULL;
  ASSERT_OK(dkr_container_inspect(d, name, &info, &err), err);
  ASSERT_EQ_STR(json_string_value(json_object_get(info, "Id")), first);
  json_decref(info);
  free(first);

  ASSERT_EQ_INT(dkr_container_start(d, "abaco-test-no-such-container", &err), ACTOR_ENOTFOUND);
  free(err);
  err = NULL;
  int64_t code = 0;
  ASSERT_EQ_INT(dkr_container_wait(d, "abaco-test-no-such-container", 1000, &code, &err),
                ACTOR_ENOTFOUND);
  free(err);
}

/* The same dkr_t from several threads, each running a whole execution. */
static void *thread_run(void *arg) {
  char msg[32];
  snprintf(msg, sizeof msg, "thread-%d", (int)(intptr_t)arg);
  char *id = NULL, *err = NULL, *out = NULL;
  if (create_c(ECHO_IMAGE, msg, NULL, &id, &err) != 0) {
    fprintf(stderr, "  thread %s: create: %s\n", msg, err ? err : "?");
    free(err);
    return (void *)1;
  }
  size_t len = 0;
  int64_t code = -1;
  int bad = dkr_container_start(d, id, &err) != 0 ||
            dkr_container_wait(d, id, 30000, &code, &err) != 0 || code != 0 ||
            dkr_container_logs(d, id, 0, &out, &len, NULL, &err) != 0;
  char want[64];
  snprintf(want, sizeof want, "Contents of MSG: %s\n", msg);
  if (!bad && strncmp(out, want, strlen(want)) != 0)
    bad = 1;
  if (!bad && dkr_container_remove(d, id, &err) != 0)
    bad = 1;
  if (bad)
    fprintf(stderr, "  thread %s: %s\n", msg, err ? err : "wrong result");
  free(out);
  free(err);
  free(id);
  return (void *)(intptr_t)bad;
}

static void test_threads(void) {
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, thread_run, (void *)(intptr_t)i);
  for (int i = 0; i < 4; i++) {
    void *bad = NULL;
    pthread_join(th[i], &bad);
    ASSERT_TRUE(bad == NULL);
  }
}

int main(void) {
  dd = test_server_env("DOCKER_HOST");
  ASSERT_EQ_INT(dkr_new(dd, &d), 0);
  if (d)
    need_engine(); /* its asserts keep the tests from running without it */
  RUN_TEST(test_images);
  RUN_TEST(test_echo_lifecycle);
  RUN_TEST(test_exit_codes_and_stderr);
  RUN_TEST(test_wait_timeout_and_kill);
  RUN_TEST(test_create_errors);
  RUN_TEST(test_threads);
  remove_all();
  dkr_free(d);
  TEST_EXIT();
}
