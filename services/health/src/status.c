/* The status round of a tick: every live READY or BUSY worker of this host
 * is sent `status` on its control queue and the answers are written on the
 * worker records. A process that exists but never answers is stuck (a
 * deadlock, SIGSTOP, a loop that no longer turns): after [health]
 * status_misses silent rounds in a row judge.c has it removed.
 *
 * All requests go out at once on one connection (chan_client_call_many) and
 * the round waits at most HEALTH_STATUS_TIMEOUT_MS however many workers
 * there are: answering workers cost one round trip together, silent ones
 * the timeout once. The requests expire in the queue after that time too,
 * so a worker that comes back does not find a pile of them. Requests are
 * not sent to a control queue that does not exist (that would create it);
 * it counts as silent, like a timeout. A broker that cannot be reached
 * counts as nothing: it is not the workers' fault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "health.h"

static const char STATUS_REQUEST[] = "\"status\"";

/* The workers to ask, as [[wid, control queue], ...]. */
static json_t *to_ask(const health_tick_t *t, const json_t *all) {
  json_t *asked = json_array();
  size_t i, k;
  json_t *entry, *w;
  json_array_foreach(all, i, entry) {
    json_array_foreach(json_array_get(entry, 1), k, w) {
      const char *wid = actor_json_str(w, "id", NULL);
      if (asked == NULL || wid == NULL)
        continue;
      const char *host = actor_json_str(w, "host_id", NULL);
      if (host == NULL || strcmp(host, t->h->host_id) != 0)
        continue; /* not ours: no /proc lookup */
      bool alive = health_procs_find(&t->procs, wid, actor_json_int(w, "pid", 0)) != 0;
      if (!health_status_asked(w, t->h->host_id, alive))
        continue;
      char q[CHAN_NAME_MAX];
      chan_name_worker(wid, q);
      json_array_append_new(asked, json_pack("[s,s]", wid, q));
    }
  }
  return asked;
}

void health_status_round(health_tick_t *t, const json_t *all) {
  json_t *asked = to_ask(t, all);
  size_t n = json_array_size(asked);
  if (asked == NULL || n == 0) {
    json_decref(asked);
    return;
  }
  chan_call_t *calls = calloc(n, sizeof(*calls));
  t->answers = json_object();
  if (calls == NULL || t->answers == NULL) {
    free(calls);
    json_decref(asked);
    json_decref(t->answers);
    t->answers = NULL;
    return;
  }
  for (size_t i = 0; i < n; i++)
    calls[i].queue = json_string_value(json_array_get(json_array_get(asked, i), 1));
  int64_t t0 = actor_time_mono_ms();
  int rc = chan_client_call_many(t->h->chan, calls, n, STATUS_REQUEST, sizeof(STATUS_REQUEST) - 1,
                                 HEALTH_STATUS_TIMEOUT_MS);
  size_t answered = 0;
  for (size_t i = 0; i < n; i++) {
    const char *wid = json_string_value(json_array_get(json_array_get(asked, i), 0));
    json_t *reply = NULL;
    if (calls[i].rc == 0) {
      answered++;
      if (chan_json_decode(calls[i].reply, calls[i].reply_len, 4096, &reply) != 0)
        LOG_WARN("health", "worker %s: unreadable status answer", wid);
    }
    free(calls[i].reply);
    json_object_set_new(
        t->answers, wid,
        json_pack("{s:i, s:o}", "rc", calls[i].rc, "reply", reply ? reply : json_null()));
  }
  if (rc != 0)
    LOG_WARN("health", "cannot ask %zu workers for their status (%s): not counted this tick", n,
             actor_strerror(rc));
  LOG_DEBUG("health", "status round: %zu of %zu workers answered in %lld ms", answered, n,
            (long long)(actor_time_mono_ms() - t0));
  free(calls);
  json_decref(asked);
}

int health_status_answer(const health_tick_t *t, const char *wid, const json_t **reply) {
  *reply = NULL;
  const json_t *a = t->answers ? json_object_get(t->answers, wid) : NULL;
  if (a == NULL)
    return -1;
  int rc = (int)actor_json_int(a, "rc", ACTOR_ECONN);
  if (rc == 0) {
    const json_t *r = json_object_get(a, "reply");
    *reply = json_is_object(r) ? r : NULL;
    return 1;
  }
  return rc == ACTOR_ETIMEDOUT || rc == ACTOR_ENOTFOUND ? 0 : -1;
}

void health_status_record(health_tick_t *t, const char *db_id, const char *wid, int answered,
                          const json_t *reply, unsigned misses) {
  json_t *f;
  if (answered) {
    char now[ACTOR_TIME_MAX];
    actor_time_format(t->now_ms, now);
    f = json_pack("{s:s, s:s, s:i}", "last_health_check_time", now, "health_status",
                  actor_json_str(reply, "status", "ANSWERED"), "health_misses", 0);
  } else {
    f = json_pack("{s:s, s:i}", "health_status", "NOT ANSWERING", "health_misses", (int)misses);
  }
  int rc = f ? model_worker_update(t->h->redis, db_id, wid, f) : ACTOR_ENOMEM;
  json_decref(f);
  if (rc != 0 && rc != ACTOR_ENOTFOUND)
    LOG_WARN("health", "worker %s: cannot record the health check: %s", wid, actor_strerror(rc));
}
