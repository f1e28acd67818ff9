/* Reading an actor's configs for its containers (actor/actorcfg.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actorcfg.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"

void actorcfg_key(const char *config_id, char out[ACTORCFG_KEY_MAX]) {
  snprintf(out, ACTORCFG_KEY_MAX, "abaco:config:%s", config_id);
}

void actorcfg_index_key(const char *db_id, char out[ACTORCFG_KEY_MAX]) {
  snprintf(out, ACTORCFG_KEY_MAX, "abaco:actor_configs:%s", db_id);
}

/* The value a container sees of one config record (new reference), or
 * NULL to leave it out. */
static json_t *config_value(const actor_secret_key_t *key, const char *db_id, const json_t *rec) {
  json_t *value = json_object_get(rec, "value");
  if (!actor_json_bool(rec, "is_secret", false))
    return json_incref(value ? value : json_null());
  const char *name = actor_json_str(rec, "name", "?");
  const char *id = actor_json_str(rec, "config_id", "");
  const char *sealed = json_string_value(value);
  if (key == NULL || !key->set || sealed == NULL) {
    LOG_WARN("configs", "actor %s: secret config %s left out: %s", db_id, name,
             sealed ? "no [web] encryption_key" : "its value is not encrypted");
    return NULL;
  }
  char *plain = NULL;
  size_t len = 0;
  int rc = actor_secret_decrypt(key, sealed, id, &plain, &len);
  if (rc != 0) {
    LOG_WARN("configs", "actor %s: secret config %s left out: cannot decrypt it (%s)", db_id, name,
             actor_strerror(rc));
    return NULL;
  }
  json_t *v = json_loadb(plain, len, JSON_DECODE_ANY, NULL);
  actor_secret_free(plain, len);
  if (v == NULL)
    LOG_WARN("configs", "actor %s: secret config %s left out: not JSON once decrypted", db_id,
             name);
  return v;
}

int actorcfg_for_actor(store_redis_t *r, const actor_secret_key_t *key, const char *db_id,
                       json_t **out) {
  *out = NULL;
  char index[ACTORCFG_KEY_MAX];
  actorcfg_index_key(db_id, index);
  json_t *ids = NULL;
  int rc = store_set_members(r, index, &ids);
  if (rc != 0)
    return rc;
  json_t *all = json_object();
  rc = all ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < json_array_size(ids); i++) {
    char key_name[ACTORCFG_KEY_MAX];
    actorcfg_key(json_string_value(json_array_get(ids, i)), key_name);
    json_t *rec = NULL;
    rc = store_record_get(r, key_name, &rec);
    if (rc == ACTOR_ENOTFOUND) {
      rc = 0; /* deleted since the index was read */
      continue;
    }
    if (rc != 0)
      break;
    const char *name = actor_json_str(rec, "name", NULL);
    json_t *v = name ? config_value(key, db_id, rec) : NULL;
    if (v != NULL && json_object_set_new(all, name, v) != 0)
      rc = ACTOR_ENOMEM;
    json_decref(rec);
  }
  json_decref(ids);
  if (rc != 0) {
    json_decref(all);
    return rc;
  }
  *out = all;
  return 0;
}
