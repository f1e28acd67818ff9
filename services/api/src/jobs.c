/* What the api's periodic jobs (the autoscaler and the cron tick) share:
 * the ticker that runs them on the thread pool, per-queue Redis leases,
 * and paged scans of the actor set.
 *
 * Ticker: the timer fires on the loop thread; the job runs on the pool,
 * where it may block on the stores like a request handler. A tick that
 * comes while the previous one still runs is skipped, not queued: a job
 * never overlaps itself and a slow store does not pile ticks up.
 *
 * Leases: several api processes may serve the same queues; each runs the
 * jobs, and a per-queue lease in Redis decides which one acts on a queue's
 * actors this interval. SET NX PX takes it; a Lua script checks the token
 * before extending or deleting, so a process whose tick outlived its lease
 * never cuts short the lease another process took since.
 *
 * Scans: SSCAN over the job's set of actor ids (abaco:actors, or the
 * job's own index: the autoscaler's abaco:autoscale:active) a page at a
 * time, at most `max` ids per tick, resuming from the cursor on the next
 * tick, so a large set costs bounded work per tick and is still covered in
 * full. A job with its own scan (the cron tick's due set) finds its actors
 * itself. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "api.h"

/* ---- ticker ---- */
static void tick_work(uv_work_t *w) {
  api_ticker_t *t = w->data;
  t->fn(t);
}

static void tick_done(uv_work_t *w, int status) {
  api_ticker_t *t = w->data;
  (void)status;
  t->busy = false;
}

static void on_timer(uv_timer_t *h) {
  api_ticker_t *t = h->data;
  if (t->busy) {
    if (t->skipped++ % 60 == 0)
      LOG_DEBUG("api", "%s: the previous tick still runs; skipping", t->name);
    return;
  }
  t->work.data = t;
  if (uv_queue_work(h->loop, &t->work, tick_work, tick_done) == 0)
    t->busy = true;
}

int api_ticker_start(uv_loop_t *loop, api_ticker_t *t, api_ctx_t *c, const char *name,
                     uint64_t interval_ms, api_tick_fn fn, void *data) {
  memset(t, 0, sizeof(*t));
  t->ctx = c;
  t->name = name;
  t->data = data;
  int rc = uv_timer_init(loop, &t->timer);
  if (rc != 0)
    return rc;
  t->fn = fn;
  t->timer.data = t;
  return uv_timer_start(&t->timer, on_timer, interval_ms, interval_ms);
}

void api_ticker_stop(api_ticker_t *t) {
  if (t->fn == NULL || t->stopped)
    return;
  t->stopped = true;
  uv_timer_stop(&t->timer);
  uv_close((uv_handle_t *)&t->timer, NULL);
}

/* ---- leases ---- */

static atomic_ullong serial;

static void lease_key(const char *job, const char *queue, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, "abaco:%s:lease:%s", job, queue);
}

int api_leases_take(api_ctx_t *c, const char *job, int64_t hold_ms, api_leases_t *l) {
  memset(l, 0, sizeof(*l));
  snprintf(l->job, sizeof(l->job), "%s", job);
  char host[64] = "";
  gethostname(host, sizeof(host) - 1);
  snprintf(l->token, sizeof(l->token), "%.32s:%d:%llu", host, (int)getpid(),
           atomic_fetch_add(&serial, 1));
  l->queues = json_array();
  char *copy = strdup(c->host_queues ? c->host_queues : "default"), *save = NULL;
  if (l->queues == NULL || copy == NULL) {
    free(copy);
    return 0;
  }
  for (char *q = strtok_r(copy, ", ", &save); q; q = strtok_r(NULL, ", ", &save)) {
    char key[MODEL_KEY_MAX];
    lease_key(job, q, key);
    bool mine = false;
    if (store_lease_take(c->redis, key, l->token, hold_ms, &mine) != 0)
      api_metrics_store_error(c->metrics, "redis");
    else if (mine)
      json_array_append_new(l->queues, json_string(q));
  }
  free(copy);
  return (int)json_array_size(l->queues);
}

bool api_leases_cover(const api_leases_t *l, const char *queue) {
  size_t i;
  json_t *q;
  json_array_foreach(l->queues, i, q) {
    if (queue && strcmp(json_string_value(q), queue) == 0)
      return true;
  }
  return false;
}

void api_leases_end(api_ctx_t *c, api_leases_t *l, int64_t keep_ms) {
  size_t i;
  json_t *q;
  json_array_foreach(l->queues, i, q) {
    char key[MODEL_KEY_MAX];
    lease_key(l->job, json_string_value(q), key);
    if (store_lease_end(c->redis, key, l->token, keep_ms) != 0) {
      /* it expires by itself after hold_ms */
      api_metrics_store_error(c->metrics, "redis");
      LOG_DEBUG("api", "%s lease of queue %s: could not end it", l->job, json_string_value(q));
    }
  }
  json_decref(l->queues);
  l->queues = NULL;
}

/* ---- scans ---- */

static int scan_set(api_ctx_t *c, const char *set, unsigned long long *cursor, size_t max,
                    void (*fn)(const char *db_id, void *ud), void *ud) {
  size_t seen = 0;
  do {
    json_t *ids = NULL;
    int rc = store_set_scan(c->redis, set, cursor, &ids);
    if (rc != 0) {
      api_metrics_store_error(c->metrics, "redis");
      return rc;
    }
    for (size_t i = 0; i < json_array_size(ids); i++, seen++)
      fn(json_string_value(json_array_get(ids, i)), ud);
    json_decref(ids);
  } while (*cursor != 0 && seen < max);
  return 0;
}

int api_scan_actors(api_ctx_t *c, unsigned long long *cursor, size_t max,
                    void (*fn)(const char *db_id, void *ud), void *ud) {
  return scan_set(c, MODEL_KEY_ACTORS, cursor, max, fn, ud);
}

/* ---- ticks ---- */

void api_job_tick(api_ctx_t *c, const api_job_t *job, int64_t interval_s,
                  unsigned long long *cursor) {
  api_pass_t p;
  memset(&p, 0, sizeof(p));
  p.c = c;
  int64_t t0 = actor_time_mono_ms();
  if (api_leases_take(c, job->name, job->hold_ms, &p.leases) == 0) {
    api_leases_end(c, &p.leases, 0);
    return; /* another api process has this interval */
  }
  api_metrics_count(c->metrics, job->ticks, 1);
  api_background_req(c, job->name, &p.req);
  p.now = job->now(c);
  int rc = job->scan ? job->scan(&p, job->max_actors)
                     : scan_set(c, job->set ? job->set : MODEL_KEY_ACTORS, cursor,
                                job->max_actors, job->each, &p);
  if (rc != 0)
    LOG_WARN("api", "%s: cannot list the actors: %s", job->name, actor_strerror(rc));
  /* Keep the leases for the rest of the interval (less a margin for timer
   * jitter), so that no api process ticks again before it is over. */
  int64_t keep = interval_s * 900 - (actor_time_mono_ms() - t0);
  api_leases_end(c, &p.leases, keep);
}
