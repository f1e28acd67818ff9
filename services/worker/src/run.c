/* One execution's container, from its files to its record (thread pool).
 *
 *   files:   results socket <socket dir>/<eid>.sock, binary FIFO
 *            <fifo dir>/<eid> (binary messages only)
 *   create, start (a force_quit that came early kills it right away)
 *   run:     a waiter thread blocks in the engine's wait (killing the
 *            container after max_run_time) and wakes this thread through a
 *            pipe; this thread polls the results socket and, on a ~1 s tick,
 *            samples the engine's stats and stores the logs so far
 *   finish:  drain the results socket, stop the FIFO writer, final logs
 *            (cut at max_log_length with a marker), final state, runtime,
 *            cpu/io, COMPLETE
 *   always:  container removed (unless leave_containers), socket and FIFO
 *            removed, threads joined
 *
 * Design note on accounting: the engine reports zero cpu and io once a
 * container has exited (its cgroup is gone), so the figures are the last
 * non-zero sample taken while it ran; a container that ends before the
 * first sample (250 ms) shows 0. Runtime comes from State.StartedAt and
 * FinishedAt, whole seconds. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actor/actorcfg.h"
#include "actor/errors.h"
#include "actor/execenv.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "channels/proto/clients.h"
#include "worker.h"

#define FIRST_TICK_MS 250
#define TICK_MS 1000
#define KILL_WAIT_MS 30000
#define PUMP_BATCH 256
#define LOG_MARK "\nLOG LIMIT EXCEEDED\n"

static bool platform_fault(int rc) {
  return rc == ACTOR_ESTORE || rc == ACTOR_ECONN || rc == ACTOR_ETIMEDOUT;
}

/* mkdir -p; errors show when the file is made in it. */
static void make_dirs(const char *path) {
  char *p = strdup(path);
  if (p == NULL)
    return;
  for (char *s = p + 1; *s; s++) {
    if (*s == '/') {
      *s = '\0';
      mkdir(p, 0755);
      *s = '/';
    }
  }
  mkdir(p, 0755);
  free(p);
}

/* ---- the waiter thread ---- */

typedef struct {
  dkr_t *docker;
  const char *cid;
  const char *eid;
  long max_run_ms; /* 0 = no limit */
  int wake_fd;     /* write end of the pipe */
  int rc;
  int64_t exit_code;
  bool timed_out;
  char *err;
} waiter_t;

static void *waiter_main(void *arg) {
  waiter_t *wt = arg;
  wt->rc = dkr_container_wait(wt->docker, wt->cid, wt->max_run_ms, &wt->exit_code, &wt->err);
  if (wt->rc == ACTOR_ETIMEDOUT && wt->max_run_ms > 0) {
    LOG_INFO("worker", "execution %s ran past max_run_time (%lds): killing it", wt->eid,
             wt->max_run_ms / 1000);
    wt->timed_out = true;
    free(wt->err);
    wt->err = NULL;
    char *kerr = NULL;
    int krc = dkr_container_kill(wt->docker, wt->cid, "SIGKILL", &kerr);
    if (krc != 0)
      LOG_WARN("worker", "execution %s: kill after max_run_time failed: %s", wt->eid,
               kerr ? kerr : actor_strerror(krc));
    free(kerr);
    wt->rc = dkr_container_wait(wt->docker, wt->cid, KILL_WAIT_MS, &wt->exit_code, &wt->err);
  }
  while (write(wt->wake_fd, "x", 1) < 0 && errno == EINTR)
    ;
  return NULL;
}

/* ---- logs and stats while running ---- */

typedef struct {
  worker_t *w;
  const worker_run_in_t *in;
  const char *cid;
  int64_t cpu, io;  /* last non-zero samples */
  size_t logs_len;  /* what was stored last (SIZE_MAX: nothing yet) */
  double runtime_s; /* from the engine's StartedAt and FinishedAt, -1 unknown */
  int logs_truncated;
} monitor_t;

static void sample_stats(monitor_t *m) {
  json_t *stats = NULL;
  if (dkr_container_stats(m->w->docker, m->cid, &stats, NULL) != 0)
    return;
  int64_t cpu = 0, io = 0;
  dkr_stats_totals(stats, &cpu, &io);
  json_decref(stats);
  if (cpu > m->cpu)
    m->cpu = cpu;
  if (io > m->io)
    m->io = io;
}

/* Fetches the logs and stores them when they changed (they only grow, so
 * the length tells). Returns 0 or the failing call's code. */
static int store_logs(monitor_t *m, char **err) {
  worker_t *w = m->w;
  char *logs = NULL;
  size_t len = 0;
  int truncated = 0;
  int rc = dkr_container_logs(w->docker, m->cid, (size_t)w->max_log_length, &logs, &len, &truncated,
                              err);
  if (rc != 0)
    return rc;
  if (len == m->logs_len && truncated == m->logs_truncated) {
    free(logs);
    return 0;
  }
  size_t stored = len;
  if (truncated) {
    char *grown = realloc(logs, len + sizeof(LOG_MARK));
    if (grown == NULL) {
      free(logs);
      return ACTOR_ENOMEM;
    }
    logs = grown;
    memcpy(logs + len, LOG_MARK, sizeof(LOG_MARK));
    stored += sizeof(LOG_MARK) - 1;
  }
  const json_t *actor = m->in->actor;
  long long log_ex = actor_json_int(actor, "log_ex", w->log_ex);
  rc = model_logs_set(w->mongo, w->db_id, actor_json_str(actor, "tenant", ""), m->in->eid, logs,
                      stored, actor_time_now_ms() + log_ex * 1000);
  free(logs);
  if (rc == 0) {
    m->logs_len = len;
    m->logs_truncated = truncated;
  }
  return rc;
}

/* Until the waiter says the container has stopped: results as they come,
 * stats and logs on each tick. */
static void monitor(monitor_t *m, worker_results_t *res, int wake_fd) {
  int64_t t0 = actor_time_mono_ms(), next = t0 + FIRST_TICK_MS;
  for (;;) {
    int64_t left = next - actor_time_mono_ms();
    struct pollfd p[2] = {{.fd = wake_fd, .events = POLLIN}, {.fd = res->fd, .events = POLLIN}};
    int n = poll(p, res->fd >= 0 ? 2 : 1, left > 0 ? (int)left : 0);
    if (n > 0 && (p[1].revents & POLLIN))
      worker_results_pump(m->w, res, PUMP_BATCH); /* ticks must not starve */
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
      return;
    if (actor_time_mono_ms() >= next) {
      sample_stats(m);
      char *err = NULL;
      int rc = store_logs(m, &err);
      if (rc != 0)
        LOG_DEBUG("worker", "execution %s: logs while running: %s", m->in->eid,
                  err ? err : actor_strerror(rc));
      free(err);
      next = (next == t0 + FIRST_TICK_MS ? t0 : next) + TICK_MS;
      if (next <= actor_time_mono_ms())
        next = actor_time_mono_ms() + TICK_MS;
    }
  }
}

/* ---- shared with the control path ---- */

static void set_running(worker_t *w, const char *eid, const char *cid) {
  uv_mutex_lock(&w->lock);
  snprintf(w->eid, sizeof(w->eid), "%s", eid ? eid : "");
  snprintf(w->cid, sizeof(w->cid), "%s", cid ? cid : "");
  if (eid == NULL)
    w->quit_pending = false;
  uv_mutex_unlock(&w->lock);
}

static bool take_quit(worker_t *w) {
  uv_mutex_lock(&w->lock);
  bool q = w->quit_pending;
  w->quit_pending = false;
  uv_mutex_unlock(&w->lock);
  return q;
}

static int64_t state_ms(const json_t *state, const char *field) {
  int64_t ms = -1;
  const char *s = actor_json_str(state, field, NULL);
  if (s == NULL || actor_time_parse(s, &ms) != 0)
    return -1;
  return ms;
}

/* ---- the run ---- */

/* After the container stopped: the final logs, and the fields that make
 * the execution COMPLETE (*out, new reference), stored once the container
 * and files are gone. */
static int finish(monitor_t *m, const waiter_t *wt, json_t **out, char **err) {
  worker_t *w = m->w;
  json_t *inspect = NULL;
  *out = NULL;
  m->logs_len = (size_t)-1; /* store the final logs whatever was stored */
  int rc = store_logs(m, err);
  if (rc == 0)
    rc = dkr_container_inspect(w->docker, m->cid, &inspect, err);
  if (rc != 0)
    return rc;
  const json_t *state = json_object_get(inspect, "State");
  int64_t started = state_ms(state, "StartedAt"), finished = state_ms(state, "FinishedAt");
  json_int_t runtime = (started > 0 && finished >= started) ? (finished - started) / 1000 : 0;
  m->runtime_s = (started > 0 && finished >= started) ? (double)(finished - started) / 1000 : -1;
  *out = json_pack("{s:s, s:I, s:I, s:O, s:I, s:I}", "status", EXEC_COMPLETE, "exit_code",
                   (json_int_t)wt->exit_code, "runtime", runtime, "final_state",
                   state ? state : json_null(), "cpu", (json_int_t)m->cpu, "io", (json_int_t)m->io);
  json_decref(inspect);
  return *out ? 0 : ACTOR_ENOMEM;
}

int worker_run(worker_t *w, const worker_run_in_t *in, bool *start_failed, char *why,
               size_t whylen) {
  const char *eid = in->eid;
  char *err = NULL, *cid = NULL;
  json_t *env = NULL, *spec = NULL, *done = NULL, *configs = NULL;
  char *token = NULL, *configs_text = NULL;
  worker_results_t res = {.fd = -1};
  worker_fifo_t *fifo = NULL;
  int pipefd[2] = {-1, -1};
  pthread_t waiter;
  bool stopped = false; /* the container ran to its end */
  waiter_t wt = {.docker = w->docker, .eid = eid, .max_run_ms = w->max_run_time * 1000};
  monitor_t m = {.w = w, .in = in, .logs_len = (size_t)-1, .runtime_s = -1};
  *start_failed = false;
  set_running(w, eid, NULL);

  make_dirs(w->socket_dir);
  int rc = worker_results_open(&res, w->socket_dir, w->db_id, eid);
  if (rc == 0 && in->binary) {
    make_dirs(w->fifo_dir);
    rc = worker_fifo_open(w->fifo_dir, eid, &fifo);
  }
  if (rc == ACTOR_ETOOBIG) {
    snprintf(why, whylen, "Error on host %s: the results socket path is too long", w->host_id);
    worker_exec_error(w, eid, why);
    rc = 0;
    goto cleanup;
  }
  if (rc != 0)
    goto cleanup; /* a host problem: try again later */

  rc = worker_token_get(w, in->actor, &token);
  if (rc == 0)
    rc = actorcfg_for_actor(w->redis, &w->config_key, w->db_id, &configs);
  if (rc == 0 && (configs_text = json_dumps(configs, JSON_COMPACT)) == NULL)
    rc = ACTOR_ENOMEM;
  if (rc != 0)
    goto cleanup; /* clientg or the store: try again later */
  actor_execenv_in_t ein = {.actor = in->actor,
                            .meta = in->meta,
                            .message = in->message,
                            .worker_id = w->wid,
                            .access_token = token,
                            .configs = configs_text};
  rc = actor_execenv_build(&ein, &env);
  if (rc != 0)
    goto cleanup;
  worker_spec_in_t sin = {.actor = in->actor,
                          .env = env,
                          .eid = eid,
                          .results_sock = res.path,
                          .binary_fifo = fifo ? worker_fifo_path(fifo) : NULL};
  env = NULL; /* the spec owns it now */
  spec = worker_spec(w, &sin);
  if (spec == NULL) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }

  rc = dkr_container_create(w->docker, NULL, spec, &cid, &err);
  if (rc != 0) {
    if (!platform_fault(rc)) {
      *start_failed = true;
      snprintf(why, whylen, "could not create the container: %s", err ? err : actor_strerror(rc));
      rc = 0;
    }
    goto cleanup;
  }
  set_running(w, eid, cid);

  rc = dkr_container_start(w->docker, cid, &err);
  if (rc != 0) {
    if (!platform_fault(rc)) {
      *start_failed = true;
      snprintf(why, whylen, "could not start the container: %s", err ? err : actor_strerror(rc));
      rc = 0;
    }
    goto cleanup;
  }
  m.cid = cid;
  wt.cid = cid;
  if (take_quit(w)) {
    LOG_INFO("worker", "execution %s: force quit before it started: killing it", eid);
    dkr_container_kill(w->docker, cid, "SIGKILL", NULL);
  }
  if (fifo && worker_fifo_start(fifo, in->binary, in->binary_len) != 0) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    rc = ACTOR_EIO;
    goto cleanup;
  }
  wt.wake_fd = pipefd[1];
  if (pthread_create(&waiter, NULL, waiter_main, &wt) != 0) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  /* From here on nothing leaves before the container has stopped. */
  monitor(&m, &res, pipefd[0]);
  pthread_join(waiter, NULL);
  stopped = wt.rc == 0;
  worker_results_pump(w, &res, 0); /* whatever came before the exit */
  worker_fifo_close(fifo);
  fifo = NULL;
  if (wt.rc != 0) {
    rc = wt.rc;
    if (!platform_fault(rc)) {
      snprintf(why, whylen, "Error on host %s: waiting for the container failed: %s", w->host_id,
               wt.err ? wt.err : actor_strerror(rc));
      worker_exec_error(w, eid, why);
      rc = 0;
    }
    goto cleanup;
  }
  rc = finish(&m, &wt, &done, &err);
  if (rc != 0 && !platform_fault(rc)) {
    snprintf(why, whylen, "Error on host %s: could not collect the container's end: %s", w->host_id,
             err ? err : actor_strerror(rc));
    worker_exec_error(w, eid, why);
    rc = 0;
  }

cleanup:
  set_running(w, eid, NULL); /* no force_quit on a container being removed */
  /* leave_containers keeps finished containers only, never a running one. */
  if (cid && (!w->leave_containers || !stopped)) {
    char *rerr = NULL;
    int rrc = dkr_container_remove(w->docker, cid, &rerr);
    if (rrc != 0)
      LOG_WARN("worker", "could not remove container %s: %s", cid,
               rerr ? rerr : actor_strerror(rrc));
    free(rerr);
  }
  worker_fifo_close(fifo);
  worker_results_close(&res);
  if (pipefd[0] >= 0)
    close(pipefd[0]);
  if (pipefd[1] >= 0)
    close(pipefd[1]);
  if (rc != 0)
    LOG_WARN("worker", "execution %s: %s%s%s", eid, actor_strerror(rc), err ? ": " : "",
             err ? err : "");
  if (res.count > 0 || res.lost > 0)
    LOG_DEBUG("worker", "execution %s: %ld results published, %ld lost", eid, res.count, res.lost);
  set_running(w, NULL, NULL);
  if (rc == 0 && done) {
    /* COMPLETE only once nothing of the execution is left on the host. */
    char now[ACTOR_TIME_MAX];
    actor_time_format(actor_time_now_ms(), now);
    json_object_set_new(done, "finish_time", json_string(now));
    rc = model_exec_update(w->mongo, eid, done);
    if (rc == 0) {
      worker_count_execution(w, EXEC_COMPLETE, m.runtime_s >= 0 ? m.runtime_s : 0);
      LOG_INFO("worker", "actor %s execution %s complete: exit code %lld, %llds%s", w->db_id, eid,
               (long long)wt.exit_code,
               (long long)json_integer_value(json_object_get(done, "runtime")),
               wt.timed_out ? " (killed after max_run_time)" : "");
      chan_event_t ev = {.type = CHAN_EVENT_EXECUTION_COMPLETE,
                         .actor = in->actor,
                         .execution_id = eid,
                         .status = EXEC_COMPLETE,
                         .has_exit_code = true,
                         .exit_code = (long long)wt.exit_code};
      worker_event(w, &ev);
    } else
      LOG_WARN("worker", "execution %s: cannot record it: %s", eid, actor_strerror(rc));
  }
  json_decref(done);
  free(wt.err);
  free(err);
  free(cid);
  json_decref(env);
  json_decref(spec);
  json_decref(configs);
  /* The environment held the token and the decrypted configs. */
  if (configs_text)
    actor_secret_free(configs_text, 0);
  chan_clients_token_free(token);
  return rc;
}
