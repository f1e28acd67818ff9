/* The executions' per-actor index keys and the count of a finished
 * execution in its actor's totals (model.h; the design is in
 * exec_retention.c). Apart from it because it needs Redis alone: the
 * worker links it without the MongoDB client (services/worker/ext). */
#include <stdio.h>

#include "actor/errors.h"
#include "actor/model.h"
#include "store_int.h"

#define PREFIX_OF "abaco:executions:of:"
#define PREFIX_TOTALS "abaco:executions:totals:"

void model_key_exec_of(const char *db_id, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, PREFIX_OF "%s", db_id);
}

void model_key_exec_totals(const char *db_id, char out[MODEL_KEY_MAX]) {
  snprintf(out, MODEL_KEY_MAX, PREFIX_TOTALS "%s", db_id);
}

/* ARGV: of-key, totals-key, eid, cpu, io, runtime. */
static const char FINISH_LUA[] =
    "if redis.call('ZSCORE', ARGV[1], ARGV[3]) == false then return 0 end\n"
    "if ARGV[4] ~= '0' then redis.call('HINCRBY', ARGV[2], 'cpu', ARGV[4]) end\n"
    "if ARGV[5] ~= '0' then redis.call('HINCRBY', ARGV[2], 'io', ARGV[5]) end\n"
    "if ARGV[6] ~= '0' then redis.call('HINCRBY', ARGV[2], 'runtime', ARGV[6]) end\n"
    "return 1\n";

int model_exec_index_finish(store_redis_t *r, const char *db_id, const char *eid, long long cpu,
                            long long io, long long runtime) {
  char of[MODEL_KEY_MAX], tot[MODEL_KEY_MAX], a[3][24];
  model_key_exec_of(db_id, of);
  model_key_exec_totals(db_id, tot);
  snprintf(a[0], sizeof(a[0]), "%lld", cpu);
  snprintf(a[1], sizeof(a[1]), "%lld", io);
  snprintf(a[2], sizeof(a[2]), "%lld", runtime);
  const char *argv[] = {"EVAL", FINISH_LUA, "0", of, tot, eid, a[0], a[1], a[2]};
  return store__redis_integer(store_redis_cmdargv(r, 9, argv, NULL), "EVAL", of, NULL);
}

