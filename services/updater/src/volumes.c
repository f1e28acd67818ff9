/* The volume step of a pass, after the instances (docs/cloud.md
 * "Reconciling": stack, then instance, then volume). Each record with a
 * volume_id (and not terminated or failed) gets the observed state of its
 * EBS volume in `volume_state` ("in-use", "available", ..., or "deleted"
 * once the cloud no longer lists it), written only when it changed. The
 * volumes are asked for through the volume-id filter, so one deleted volume
 * cannot fail the call for the others; a failed call changes nothing. */
#include <string.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "updater.h"

static bool looked_at(const json_t *rec) {
  const char *vol = json_string_value(json_object_get(rec, "volume_id"));
  const char *state = actor_json_str(rec, "state", "");
  return vol && *vol && !cloud_state_terminal(state);
}

json_t *upd_volume_ids(const json_t *records) {
  json_t *ids = json_array();
  size_t i;
  json_t *rec;
  json_array_foreach(records, i, rec) {
    if (ids && looked_at(rec) &&
        json_array_append(ids, json_object_get(rec, "volume_id")) != 0) {
      json_decref(ids);
      return NULL;
    }
  }
  return ids;
}

json_t *upd_volume_changes(const json_t *records, const json_t *present) {
  json_t *states = json_object(), *out = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(present, i, v) {
    const char *id = json_string_value(json_object_get(v, "volume_id"));
    const char *st = json_string_value(json_object_get(v, "state"));
    if (states && id && st && json_object_set_new(states, id, json_string(st)) != 0)
      goto nomem;
  }
  json_array_foreach(records, i, v) {
    if (!looked_at(v))
      continue;
    const char *seen =
        actor_json_str(states, json_string_value(json_object_get(v, "volume_id")), "deleted");
    const char *had = json_string_value(json_object_get(v, "volume_state"));
    if (had && strcmp(had, seen) == 0)
      continue;
    if (out == NULL || json_array_append_new(out, json_pack("{s:O, s:O, s:s}", "tenant",
                                                            json_object_get(v, "tenant"), "id",
                                                            json_object_get(v, "id"),
                                                            "volume_state", seen)) != 0)
      goto nomem;
  }
  json_decref(states);
  return out;

nomem:
  json_decref(states);
  json_decref(out);
  return NULL;
}

int upd_volumes_apply(store_redis_t *r, aws_t *aws, const json_t *records, long *written,
                      long *failed) {
  *written = *failed = 0;
  json_t *ids = upd_volume_ids(records), *present = json_array();
  int rc = ids && present ? 0 : ACTOR_ENOMEM;
  for (size_t at = 0; rc == 0 && at < json_array_size(ids); at += UPD_VOLUME_BATCH) {
    json_t *batch = json_array(), *got = NULL;
    for (size_t k = at; batch && k < at + UPD_VOLUME_BATCH && k < json_array_size(ids); k++)
      if (json_array_append(batch, json_array_get(ids, k)) != 0)
        break;
    aws_result_t res;
    memset(&res, 0, sizeof(res));
    rc = batch ? aws_ec2_volumes_present(aws, batch, &got, &res) : ACTOR_ENOMEM;
    if (rc == ACTOR_EAWS)
      LOG_WARN("updater", "DescribeVolumes: %s (%s): %s; volumes left as they are", res.code,
               aws_class_name(res.cls), res.message);
    if (rc == 0 && json_array_extend(present, got) != 0)
      rc = ACTOR_ENOMEM;
    json_decref(got);
    json_decref(batch);
  }
  json_t *changes = rc == 0 ? upd_volume_changes(records, present) : NULL;
  if (rc == 0 && changes == NULL)
    rc = ACTOR_ENOMEM;
  size_t i;
  json_t *ch;
  json_array_foreach(changes, i, ch) {
    json_t *fields = json_pack("{s:O}", "volume_state", json_object_get(ch, "volume_state"));
    int w = fields ? cloud_instance_update(r, actor_json_str(ch, "tenant", ""),
                                           actor_json_str(ch, "id", ""), fields)
                   : ACTOR_ENOMEM;
    json_decref(fields);
    if (w == 0)
      (*written)++;
    else if (w != ACTOR_ENOTFOUND) /* a record removed by this pass is no failure */
      (*failed)++;
  }
  json_decref(changes);
  json_decref(present);
  json_decref(ids);
  return rc;
}
