/* The reaper's request for a replacement worker (services/spawner/src/
 * reaper.c), without a broker: a connection to a port where nothing
 * listens keeps the publish in its outbox, and closing it gives the
 * publish's callback ACTOR_ECLOSED. That callback logs the failure with the
 * actor's id: it once got a strdup of the id that was never checked (a
 * NULL for printf's %s when the copy failed); now the id travels in the
 * reaping's own record, so there is no copy to fail. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawner.h"
#include "test.h"

#define NOBODY "amqp://guest:guest@127.0.0.1:1/"
#define LOG_PATH "test_spawner_reaper.log"

static int saved_stderr = -1;

/* The log (stderr) into LOG_PATH until log_text(). */
static void capture_log(void) {
  fflush(stderr);
  saved_stderr = dup(2);
  int fd = open(LOG_PATH, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_TRUE(fd >= 0 && saved_stderr >= 0);
  dup2(fd, 2);
  close(fd);
}

static char *log_text(void) {
  fflush(stderr);
  dup2(saved_stderr, 2);
  close(saved_stderr);
  static char buf[8192];
  FILE *f = fopen(LOG_PATH, "r");
  ASSERT_TRUE(f != NULL);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  unlink(LOG_PATH);
  fputs(buf, stderr); /* shown when the test fails */
  return buf;
}

static spawner_reap_t *a_reaping(spawner_t *sp, const char *command) {
  spawner_reap_t *r = calloc(1, sizeof(*r));
  ASSERT_TRUE(r != NULL);
  r->sp = sp;
  snprintf(r->db_id, sizeof(r->db_id), "%s", "TENANT_a1");
  snprintf(r->wid, sizeof(r->wid), "%s", "w1");
  snprintf(r->queue, sizeof(r->queue), "%s", "command-test");
  r->command = command ? strdup(command) : NULL;
  return r;
}

/* Runs the requests (commands, NULL for none; stopping after the first
 * `before_stop`) against a connection nobody answers, closes it so every
 * publish callback runs, and returns the log. */
static char *request(const char *const *commands, int n, int before_stop) {
  uv_loop_t loop;
  ASSERT_EQ_INT(uv_loop_init(&loop), 0);
  spawner_t sp;
  memset(&sp, 0, sizeof(sp));
  ASSERT_EQ_INT(chan_conn_new(&loop, NOBODY, "test", &sp.conn), 0);
  capture_log();
  for (int i = 0; i < n; i++) {
    sp.stopping = i >= before_stop;
    spawner__request_replacement(a_reaping(&sp, commands[i]));
  }
  chan_conn_close(sp.conn, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  char *log = log_text();
  ASSERT_EQ_INT(uv_loop_close(&loop), 0);
  return log;
}

/* Published into the outbox; the close fails it: the callback names the actor. */
static void test_failed_request_names_the_actor(void) {
  const char *const commands[] = {"{\"actor_id\": \"a1\"}"};
  char *log = request(commands, 1, 1);
  ASSERT_TRUE(strstr(log, "requested a replacement for dead worker w1") != NULL);
  ASSERT_TRUE(strstr(log, "could not request a replacement worker (TENANT_a1): ") != NULL);
  ASSERT_TRUE(strstr(log, "(null)") == NULL);
}

/* Nothing to publish, or stopping: nothing is published, r is freed. */
static void test_nothing_to_request(void) {
  const char *const commands[] = {NULL, "{}"};
  char *log = request(commands, 2, 1);
  ASSERT_TRUE(strstr(log, "replacement") == NULL);
}

int main(void) {
  RUN_TEST(test_failed_request_names_the_actor);
  RUN_TEST(test_nothing_to_request);
  TEST_EXIT();
}
