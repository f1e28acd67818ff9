/* An execution's results (docs/api.md "What a container sees"): a unix datagram socket on the host,
 * bind-mounted into the container at /_abaco_results.sock. Every datagram
 * the container sends becomes one result: its raw bytes are published
 * (persistent, application/octet-stream) to results_<db_id>_<eid>, a queue
 * the broker deletes after a day of disuse, where the API takes them one
 * per GET .../results. The queue is declared on the first datagram, so an
 * execution without results costs no queue.
 *
 * A datagram socket keeps message boundaries and makes a sender block (not
 * drop) while the receive queue is full, so nothing is lost as long as the
 * worker keeps reading; each datagram's size is peeked first (MSG_TRUNC),
 * so no fixed receive buffer sits in the worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "worker.h"

#define PUBLISH_TIMEOUT_MS 5000
#define PUBLISH_TRIES 3

int worker_results_open(worker_results_t *r, const char *dir, const char *db_id, const char *eid) {
  memset(r, 0, sizeof(*r));
  r->fd = -1;
  chan_name_results(db_id, eid, r->queue);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (asprintf(&r->path, "%s/%s.sock", dir, eid) < 0) {
    r->path = NULL;
    return ACTOR_ENOMEM;
  }
  if (strlen(r->path) >= sizeof(addr.sun_path)) {
    LOG_ERROR("worker", "execution %s: results socket path %s is too long (max %zu bytes)", eid,
              r->path, sizeof(addr.sun_path) - 1);
    free(r->path);
    r->path = NULL;
    return ACTOR_ETOOBIG;
  }
  memcpy(addr.sun_path, r->path, strlen(r->path) + 1);
  unlink(r->path); /* left by a worker that died in this execution */
  r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      chmod(r->path, 0777) != 0) {
    LOG_ERROR("worker", "execution %s: results socket %s: %s", eid, r->path, strerror(errno));
    worker_results_close(r);
    return ACTOR_EIO;
  }
  return 0;
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Publishes one result, declaring the queue first if needed; a few tries
 * across a broker hiccup. */
static int publish(worker_t *w, worker_results_t *r, const void *data, size_t len) {
  static const chan_props_t props = {.content_type = "application/octet-stream"};
  int rc = 0;
  for (int attempt = 0; attempt < PUBLISH_TRIES; attempt++) {
    if (attempt > 0)
      pause_ms(200L * attempt);
    if (!r->declared) {
      rc = chan_client_declare(w->results, r->queue, WORKER_RESULTS_EXPIRE_MS);
      if (rc != 0)
        continue;
      r->declared = true;
    }
    rc = chan_client_publish(w->results, r->queue, data, len, &props, PUBLISH_TIMEOUT_MS);
    if (rc == 0 || rc == ACTOR_ETIMEDOUT) /* a timed-out one may still arrive: not twice */
      break;
  }
  return rc;
}

void worker_results_pump(worker_t *w, worker_results_t *r, long max) {
  for (long n_done = 0; r->fd >= 0 && (max <= 0 || n_done < max); n_done++) {
    ssize_t n = recv(r->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        LOG_WARN("worker", "results socket %s: %s", r->path, strerror(errno));
      return;
    }
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL) {
      char drop;
      (void)!recv(r->fd, &drop, 1, 0); /* take it off the socket all the same */
      r->lost++;
      LOG_ERROR("worker", "results socket %s: a datagram of %zd bytes was dropped: out of memory",
                r->path, n);
      continue;
    }
    ssize_t got = recv(r->fd, buf, (size_t)n, 0);
    if (got < 0) {
      int e = errno;
      free(buf);
      if (e == EINTR)
        continue;
      if (e != EAGAIN && e != EWOULDBLOCK)
        LOG_WARN("worker", "results socket %s: %s", r->path, strerror(e));
      return;
    }
    int rc = publish(w, r, buf, (size_t)got);
    free(buf);
    if (rc == 0) {
      r->count++;
    } else {
      r->lost++;
      LOG_ERROR("worker", "worker %s: a result of %zd bytes could not be published to %s: %s",
                w->wid, got, r->queue, actor_strerror(rc));
    }
  }
}

void worker_results_close(worker_results_t *r) {
  if (r->fd >= 0)
    close(r->fd);
  r->fd = -1;
  if (r->path)
    unlink(r->path);
  free(r->path);
  r->path = NULL;
}
