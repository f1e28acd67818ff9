/* The audit of launches and instance actions: one MongoDB document per
 * event in the collection instance_audit (docs/cloud.md, "Audit"), written
 * like executions are (store_mongo_insert), read newest first. */
#include <string.h>

#include "actor/cloud.h"
#include "actor/timefmt.h"

#define AUDIT_COLL "instance_audit"
#define AUDIT_LIMIT_MAX 1000

int cloud_audit_add(store_mongo_t *m, const json_t *doc) {
  char t[ACTOR_TIME_MAX];
  if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "tenant")) ||
      !json_is_string(json_object_get(doc, "instance_id")))
    return ACTOR_EINVAL;
  json_t *copy = json_deep_copy(doc);
  if (copy == NULL)
    return ACTOR_ENOMEM;
  actor_time_format(actor_time_now_ms(), t);
  int rc = json_object_set_new(copy, "time", json_string(t)) == 0 ? 0 : ACTOR_ENOMEM;
  json_object_del(copy, "_id");
  if (rc == 0)
    rc = store_mongo_insert(m, AUDIT_COLL, copy);
  json_decref(copy);
  return rc;
}

int cloud_audit_list(store_mongo_t *m, const char *tenant, const char *instance_id, long limit,
                     json_t **out) {
  *out = NULL;
  if (tenant == NULL || instance_id == NULL)
    return ACTOR_EINVAL;
  if (limit <= 0 || limit > AUDIT_LIMIT_MAX)
    limit = AUDIT_LIMIT_MAX;
  /* _id breaks ties between documents of the same millisecond: ObjectIds
   * grow with time */
  json_t *filter = json_pack("{s:s, s:s}", "tenant", tenant, "instance_id", instance_id);
  json_t *opts = json_pack("{s:{s:i, s:i}, s:I, s:{s:i}}", "sort", "time", -1, "_id", -1, "limit",
                           (json_int_t)limit, "projection", "_id", 0);
  int rc = filter && opts ? store_mongo_find(m, AUDIT_COLL, filter, opts, out) : ACTOR_ENOMEM;
  json_decref(filter);
  json_decref(opts);
  return rc;
}
