/* The cloud side's cluster-wide metrics: counters the launcher and the
 * updater add to Redis hashes, which the api renders on /metrics
 * (docs/cloud.md, "Metrics"). */
#include <stdio.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/store_kv.h"
#include "cloud_int.h"

#define AWS_CALLS_KEY "abaco:metrics:aws_calls"
#define RECONCILE_KEY "abaco:metrics:reconcile"

int cloud_metrics_aws_call(store_redis_t *r, const char *op, const char *outcome,
                           int throttled) {
  char field[CLOUD_KEY_MAX];
  if (op == NULL || outcome == NULL || *op == '\0' || *outcome == '\0')
    return ACTOR_EINVAL;
  int rc = cloud__key(field, "%s|%s", op, outcome);
  if (rc == 0)
    rc = store_counter_add(r, AWS_CALLS_KEY, field, 1, NULL);
  if (rc == 0 && throttled > 0)
    rc = store_counter_add(r, AWS_CALLS_KEY, "throttles", throttled, NULL);
  return rc;
}

int cloud_metrics_reconcile(store_redis_t *r, long long duration_ms, long long objects) {
  char num[32];
  int n = snprintf(num, sizeof(num), "%lld", duration_ms);
  int rc = store_hash_set(r, RECONCILE_KEY, "duration_ms", num, (size_t)n);
  if (rc == 0) {
    n = snprintf(num, sizeof(num), "%lld", objects);
    rc = store_hash_set(r, RECONCILE_KEY, "objects", num, (size_t)n);
  }
  if (rc == 0)
    rc = store_counter_add(r, RECONCILE_KEY, "passes", 1, NULL);
  return rc;
}
