/* [store] executions_retention (docs/configuration.md): executions older
 * than the retention, and their logs, are deleted -- those of deleted
 * actors included -- in bounded batches; and the executions' indexes.
 *
 * Design note. The executions' indexes (libactor exec_retention.c: Redis
 * sorted sets of ids -- all by time, and each actor's -- and each actor's
 * totals, because FerretDB v1 serves no filter but a lone _id from an
 * index) are kept by every api whatever the retention: the ids of each
 * group commit are added before the executions are written (store_batch's
 * hook), and accounting records the same way. Right after start (on the
 * tick's thread: the api answers meanwhile, its lists reading the
 * collection until the indexes are built), and then every
 * [store] executions_retention_interval seconds, the api process holding
 * the "retention" lease (one cluster-wide) builds the indexes from the
 * collection if they were never built (a stack upgraded from an earlier
 * release, or index keys flushed from Redis); then, with retention on, it
 * removes batches of at most [store] executions_retention_batch
 * executions, oldest first, while batches come back full and for at most
 * RETENTION_TICK_MS. With retention off ("keep", the default, as in Abaco)
 * nothing is deleted. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "api.h"

#define RETENTION_LEASE "abaco:retention:lease"
#define RETENTION_HOLD_MS (10 * 60 * 1000)
/* How long one tick keeps deleting (full batches) before it lets go. */
#define RETENTION_TICK_MS 5000

int api_retention_parse(const char *text, int64_t *ms) {
  *ms = 0;
  if (text == NULL || *text == '\0' || strcasecmp(text, "keep") == 0)
    return 0;
  const char *p = text;
  long long n = 0;
  if (!isdigit((unsigned char)*p))
    return ACTOR_EINVAL;
  while (isdigit((unsigned char)*p)) {
    n = n * 10 + (*p++ - '0');
    if (n > 100000LL * 86400)
      return ACTOR_EINVAL;
  }
  long long unit = 86400; /* a bare number is days */
  if (*p != '\0') {
    switch (*p++) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return ACTOR_EINVAL;
    }
    if (*p != '\0')
      return ACTOR_EINVAL;
  }
  if (n <= 0 || n * unit > 100000LL * 86400)
    return ACTOR_EINVAL;
  *ms = (int64_t)(n * unit) * 1000;
  return 0;
}

static int index_before(const json_t *docs, void *ud) {
  api_ctx_t *c = ud;
  int rc = model_exec_index_add(c->redis, docs);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "cannot index %zu new execution(s): %s", json_array_size(docs),
             actor_strerror(rc));
  }
  return rc;
}

/* Takes out of the indexes the executions whose insert failed. */
static void index_after(const json_t *failed, void *ud) {
  api_ctx_t *c = ud;
  int rc = model_exec_index_remove(c->redis, failed);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "cannot unindex %zu execution(s) not inserted: %s",
             json_array_size(failed), actor_strerror(rc));
  }
}

int api_retention_setup(api_ctx_t *c) {
  store_batch_set_before(c->exec_batch, index_before, c);
  store_batch_set_after(c->exec_batch, index_after, c);
  return 0;
}

void api_retention_unindex(api_ctx_t *c, const json_t *exec) {
  json_t *one = json_pack("[O]", exec);
  if (one)
    index_after(one, c);
  json_decref(one);
}

int api_retention_index(api_ctx_t *c, const json_t *exec) {
  json_t *one = json_pack("[O]", exec);
  int rc = one ? index_before(one, c) : ACTOR_ENOMEM;
  json_decref(one);
  return rc;
}

void api_retention_tick(api_ctx_t *c) {
  char token[128], host[64] = "";
  gethostname(host, sizeof(host) - 1);
  snprintf(token, sizeof(token), "%.32s:%d:retention", host, (int)getpid());
  bool mine = false;
  if (store_lease_take(c->redis, RETENTION_LEASE, token, RETENTION_HOLD_MS, &mine) != 0) {
    api_metrics_store_error(c->metrics, "redis");
    return;
  }
  if (!mine)
    return;
  int64_t t0 = actor_time_mono_ms();
  bool built = false;
  int rc = model_exec_index_built(c->redis, &built);
  if (rc == 0 && !built) {
    long long n = 0;
    LOG_INFO("api", "building the executions' indexes from the collection");
    rc = model_exec_index_rebuild(c->redis, c->mongo, &n);
    if (rc == 0)
      LOG_INFO("api", "executions' indexes: indexed %lld execution(s) in %lld ms", n,
               (long long)(actor_time_mono_ms() - t0));
  }
  int64_t cutoff = actor_time_now_ms() - c->retention_ms;
  char when[ACTOR_TIME_MAX];
  actor_time_format(cutoff, when);
  size_t removed = (size_t)c->retention_batch;
  while (rc == 0 && c->retention_ms > 0 && removed == (size_t)c->retention_batch &&
         actor_time_mono_ms() - t0 < RETENTION_TICK_MS) {
    rc = model_exec_retire(c->redis, c->mongo, cutoff, (size_t)c->retention_batch, &removed);
    if (removed > 0)
      LOG_INFO("api", "retention: removed %zu execution(s) received before %s, with their logs",
               removed, when);
  }
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "mongo");
    LOG_WARN("api", "retention: %s; next tick", actor_strerror(rc));
  }
  /* With retention on the holder keeps the lease (one process retires);
   * off, only the rare rebuild needs it: let it go. */
  int64_t keep = c->retention_ms > 0 ? c->retention_interval * 900 - (actor_time_mono_ms() - t0)
                                     : 0;
  if (store_lease_end(c->redis, RETENTION_LEASE, token, keep) != 0)
    api_metrics_store_error(c->metrics, "redis");
}
