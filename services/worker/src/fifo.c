/* A binary message's bytes (docs/api.md "What a container sees"): a FIFO on the host, bind-mounted
 * into the container at /_abaco_binary_data, fed by a thread of its own.
 *
 * The writer never blocks for long: opening a FIFO for writing without a
 * reader fails (ENXIO) with O_NONBLOCK, so it retries (5 ms, growing to
 * 100 ms) until the container opens it for reading; writes are
 * non-blocking with a poll of at most 100 ms. Between waits it checks the
 * stop flag, which worker_fifo_close raises once the container has exited,
 * so a container that never reads, or stops reading, costs a bounded wait.
 * Closing the write end gives the reader its EOF. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "worker.h"

#define OPEN_RETRY_MIN_MS 5
#define OPEN_RETRY_MAX_MS 100
#define POLL_MS 100

struct worker_fifo_s {
  char *path;
  const unsigned char *data;
  size_t len;
  size_t written;
  pthread_t thread;
  bool running; /* the thread was started */
  atomic_bool stop;
};

int worker_fifo_open(const char *dir, const char *eid, worker_fifo_t **out) {
  *out = NULL;
  worker_fifo_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return ACTOR_ENOMEM;
  atomic_init(&f->stop, false);
  if (asprintf(&f->path, "%s/%s", dir, eid) < 0) {
    free(f);
    return ACTOR_ENOMEM;
  }
  unlink(f->path); /* left by a worker that died in this execution */
  if (mkfifo(f->path, 0666) != 0 || chmod(f->path, 0666) != 0) {
    LOG_ERROR("worker", "execution %s: binary FIFO %s: %s", eid, f->path, strerror(errno));
    worker_fifo_close(f);
    return ACTOR_EIO;
  }
  *out = f;
  return 0;
}

const char *worker_fifo_path(const worker_fifo_t *f) {
  return f->path;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Opens the write end once a reader exists; -1 when stopped or failed. */
static int open_writer(worker_fifo_t *f) {
  long wait = OPEN_RETRY_MIN_MS;
  while (!atomic_load(&f->stop)) {
    int fd = open(f->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
      return fd;
    if (errno != ENXIO && errno != EINTR) {
      LOG_WARN("worker", "binary FIFO %s: %s", f->path, strerror(errno));
      return -1;
    }
    sleep_ms(wait);
    wait = wait * 2 > OPEN_RETRY_MAX_MS ? OPEN_RETRY_MAX_MS : wait * 2;
  }
  return -1;
}

static void *writer_main(void *arg) {
  worker_fifo_t *f = arg;
  int fd = open_writer(f);
  if (fd < 0)
    return NULL;
  while (f->written < f->len && !atomic_load(&f->stop)) {
    ssize_t n = write(fd, f->data + f->written, f->len - f->written);
    if (n > 0) {
      f->written += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      if (errno != EPIPE) /* EPIPE: the reader left early, its choice */
        LOG_WARN("worker", "binary FIFO %s: %s", f->path, strerror(errno));
      break;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    poll(&p, 1, POLL_MS);
  }
  close(fd);
  return NULL;
}

int worker_fifo_start(worker_fifo_t *f, const void *data, size_t len) {
  f->data = data;
  f->len = len;
  int rc = pthread_create(&f->thread, NULL, writer_main, f);
  if (rc != 0) {
    LOG_ERROR("worker", "binary FIFO %s: cannot start its writer: %s", f->path, strerror(rc));
    return ACTOR_ENOMEM;
  }
  f->running = true;
  return 0;
}

void worker_fifo_close(worker_fifo_t *f) {
  if (f == NULL)
    return;
  atomic_store(&f->stop, true);
  if (f->running)
    pthread_join(f->thread, NULL);
  if (f->running && f->written < f->len)
    LOG_INFO("worker", "binary FIFO %s: the container read %zu of %zu bytes", f->path, f->written,
             f->len);
  if (f->path)
    unlink(f->path);
  free(f->path);
  free(f);
}
