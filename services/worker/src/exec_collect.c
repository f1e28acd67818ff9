/* Stage 6, collect what the container left (thread pool): its logs (cut at
 * max_log_length with a marker), its final state and exit code, runtime,
 * cpu and io: the fields that make the execution COMPLETE, stored by the
 * record stage once the container and files are gone. The logs are also
 * stored while it runs (exec_wait.c), from the same functions.
 *
 * Failure rule: the engine or the store unreachable returns its code (the
 * message is requeued and the execution runs again); any other failure to
 * collect the end (an engine error answer, memory) settles the execution as
 * ERROR ("Error on host <host>: could not collect the container's end:
 * ...") and the message is acked.
 *
 * Design note on accounting: the engine reports zero cpu and io once a
 * container has exited (its cgroup is gone), so the figures are the last
 * non-zero sample taken while it ran; a container that ends before the
 * first sample (250 ms) shows 0. Runtime comes from State.StartedAt and
 * FinishedAt, whole seconds. */
#include <stdlib.h>
#include <string.h>

#include "actor/json.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "exec.h"

#define LOG_MARK "\nLOG LIMIT EXCEEDED\n"

void worker__sample_stats(worker_exec_t *x) {
  if (x->w->runtime == WORKER_RUNTIME_OCI) {
    worker__oci_sample(x);
    return;
  }
  json_t *stats = NULL;
  if (dkr_container_stats(x->w->docker, x->cid, &stats, NULL) != 0)
    return;
  int64_t cpu = 0, io = 0;
  dkr_stats_totals(stats, &cpu, &io);
  json_decref(stats);
  if (cpu > x->cpu)
    x->cpu = cpu;
  if (io > x->io)
    x->io = io;
}

/* Fetches the logs and stores them when they changed (they only grow, so
 * the length tells). Returns 0 or the failing call's code. */
int worker__store_logs(worker_exec_t *x, char **err) {
  worker_t *w = x->w;
  char *logs = NULL;
  size_t len = 0;
  int truncated = 0;
  int rc = w->runtime == WORKER_RUNTIME_OCI
               ? worker__oci_logs(x, (size_t)w->max_log_length, &logs, &len, &truncated)
               : dkr_container_logs(w->docker, x->cid, (size_t)w->max_log_length, &logs, &len,
                                    &truncated, err);
  if (rc != 0)
    return rc;
  if (len == x->logs_len && truncated == x->logs_truncated) {
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
  const json_t *actor = x->in->actor;
  /* The actor's own log_ex, else its tenant's [web] log_ex (0: kept forever). */
  long long log_ex = actor_json_int(actor, "log_ex", w->exec.log_ex);
  int64_t exp = log_ex > 0 ? actor_time_now_ms() + log_ex * 1000 : WORKER_LOGS_FOREVER_MS;
  rc = model_logs_set(w->mongo, w->db_id, actor_json_str(actor, "tenant", ""), x->in->eid, logs,
                      stored, exp);
  free(logs);
  if (rc == 0) {
    x->logs_len = len;
    x->logs_truncated = truncated;
  }
  return rc;
}

static int64_t state_ms(const json_t *state, const char *field) {
  int64_t ms = -1;
  const char *s = actor_json_str(state, field, NULL);
  if (s == NULL || actor_time_parse(s, &ms) != 0)
    return -1;
  return ms;
}

json_t *worker__complete_fields(worker_exec_t *x, const json_t *state) {
  int64_t started = state_ms(state, "StartedAt"), finished = state_ms(state, "FinishedAt");
  bool known = started > 0 && finished >= started;
  json_int_t runtime = known ? (finished - started) / 1000 : 0;
  x->runtime_s = known ? (double)(finished - started) / 1000 : -1;
  return json_pack("{s:s, s:I, s:I, s:O, s:I, s:I}", "status", EXEC_COMPLETE, "exit_code",
                   (json_int_t)x->wt.exit_code, "runtime", runtime, "final_state",
                   state ? state : json_null(), "cpu", (json_int_t)x->cpu, "io",
                   (json_int_t)x->io);
}

static int collect(worker_exec_t *x) {
  json_t *inspect = NULL;
  x->logs_len = (size_t)-1; /* store the final logs whatever was stored */
  int rc = worker__store_logs(x, &x->err);
  if (rc == 0 && x->w->runtime == WORKER_RUNTIME_OCI) {
    worker__oci_sample(x); /* the cgroup outlives the process (runc run --keep) */
    json_t *state = worker__oci_state(x);
    x->done = state ? worker__complete_fields(x, state) : NULL;
    json_decref(state);
    return x->done ? 0 : ACTOR_ENOMEM;
  }
  if (rc == 0)
    rc = dkr_container_inspect(x->w->docker, x->cid, &inspect, &x->err);
  if (rc != 0)
    return rc;
  x->done = worker__complete_fields(x, json_object_get(inspect, "State"));
  json_decref(inspect);
  return x->done ? 0 : ACTOR_ENOMEM;
}

int worker__exec_collect(worker_exec_t *x) {
  int rc = collect(x);
  if (rc == 0 || worker__platform_fault(rc))
    return rc;
  worker__exec_settle(x, "could not collect the container's end: %s",
                      x->err ? x->err : actor_strerror(rc));
  return 0;
}
