/* Actor configs (API.md §3): named values shared with a list of actors,
 * with their own permission map. Creating or changing one needs UPDATE on
 * every actor it lists (ids or aliases, resolved when the config is
 * saved). The set abaco:actor_configs:<db_id> indexes, per actor, the
 * configs that list it: that is what a worker reads to build the
 * container's _actor_configs (layout in access.h).
 *
 * A secret value (is_secret) is stored as actor_secret_encrypt() of the
 * compact JSON text of the value, authenticated with the config's id
 * ("<TENANT>_<name>") as associated data, so neither Redis nor any
 * response ever holds it in clear; responses show SECRET_SHOWN instead.
 * Without [web] encryption_key, secret configs are refused. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "actor/actorcfg.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"
#include "actor/timefmt.h"

#define KEY_CONFIGS "abaco:configs"
#define SECRET_SHOWN "*****"

static bool name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > API_NAME_MAX || strspn(name, ".") == n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)name[i]) && !strchr("-._~", name[i]))
      return false;
  return true;
}

static json_t *config_display(api_req_t *r, const json_t *rec) {
  const char *name = actor_json_str(rec, "name", "");
  const char *owner = actor_json_str(rec, "owner", "");
  bool secret = actor_json_bool(rec, "is_secret", false);
  json_t *value = json_object_get(rec, "value");
  char self[256];
  snprintf(self, sizeof(self), "configs/%s", name);
  return json_pack("{s:s, s:o, s:b, s:s, s:s, s:s, s:s, s:o}", "name", name, "value",
                   secret ? json_string(SECRET_SHOWN) : json_incref(value ? value : json_null()),
                   "is_secret", secret, "actors", actor_json_str(rec, "actors", ""), "owner", owner,
                   "create_time", actor_json_str(rec, "create_time", "None"), "last_update_time",
                   actor_json_str(rec, "last_update_time", "None"), "_links",
                   api_links(r, self, owner, NULL, NULL));
}

/* The config of the path, when the caller holds `level` on it (new
 * reference); NULL after answering 404/400. */
static json_t *load_config(api_req_t *r, api_level_t level) {
  json_t *rec = NULL;
  char id[MODEL_KEY_MAX], key[ACTORCFG_KEY_MAX];
  int rc = ACTOR_ENOTFOUND;
  if (name_ok(r->params[0])) {
    model_db_id(r->ident.tenant, r->params[0], id);
    actorcfg_key(id, key);
    rc = store_record_get(r->ctx->redis, key, &rec);
  }
  return api_checked_record(r, rc, rec, "config", "config_id", level, "Config");
}

/* "id1, alias2" -> the db_ids of those actors (new array), after checking
 * that each exists in the tenant (else 404) and that the caller holds
 * UPDATE on it (else 400). NULL after answering. */
static json_t *resolve_actors(api_req_t *r, const char *list) {
  json_t *db_ids = json_array();
  char *copy = strdup(list ? list : "");
  bool ok = db_ids && copy;
  if (!ok)
    api_error(r, 500, "out of memory");
  for (char *save = NULL, *t = ok ? strtok_r(copy, ",", &save) : NULL; t && ok;
       t = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*t))
      t++;
    size_t n = strlen(t);
    while (n > 0 && isspace((unsigned char)t[n - 1]))
      t[--n] = '\0';
    if (n == 0)
      continue;
    json_t *actor = NULL;
    int rc = api_lookup_actor(r, t, &actor);
    if (rc == ACTOR_ENOTFOUND) {
      api_error(r, 404, "Actor with identifier '%s' not found", t);
      ok = false;
    } else if (rc != 0) {
      api_store_error(r, rc, "actor");
      ok = false;
    } else if (!api_has_level(r, actor, API_UPDATE)) {
      api_error(r, 400, "Not authorized -- you do not have access to this actor.");
      ok = false;
    } else {
      const char *db_id = actor_json_str(actor, "db_id", "");
      bool seen = false;
      size_t i;
      json_t *d;
      json_array_foreach(db_ids, i, d) seen = seen || strcmp(json_string_value(d), db_id) == 0;
      if (!seen)
        json_array_append_new(db_ids, json_string(db_id));
      if (api_check_limit(r, API_LIM_CONFIG_ACTOR_COUNT, json_array_size(db_ids)) != 0)
        ok = false;
    }
    json_decref(actor);
  }
  free(copy);
  if (!ok) {
    json_decref(db_ids);
    return NULL;
  }
  return db_ids;
}

/* Reads a create/update body into the record to store (new reference),
 * keeping owner and create_time of `existing`. NULL after answering. */
static json_t *config_from_body(api_req_t *r, const char *name, const char *config_id,
                                const json_t *existing) {
  json_t *body = api_body_object(r), *rec = NULL, *db_ids = NULL;
  if (body == NULL)
    return NULL;
  const char *actors = NULL;
  bool secret = false;
  json_t *value = json_object_get(body, "value");
  json_t *is_secret = json_object_get(body, "is_secret");
  if (api_field_text(r, body, API_LIM_CONFIG_ACTORS, &actors))
    goto cleanup;
  if (is_secret == NULL || json_is_null(is_secret)) {
    api_error(r, 400, "is_secret is required: true or false.");
    goto cleanup;
  }
  if (api_field_bool(r, body, "is_secret", false, &secret))
    goto cleanup;
  if (value == NULL || json_is_null(value)) {
    api_error(r, 400, "value is required: the value of the config.");
    goto cleanup;
  }
  if (api_check_json(r, API_LIM_CONFIG_VALUE, value) != 0)
    goto cleanup;
  if (secret && !r->ctx->access->secret.set) {
    api_error(r, 400,
              "Secret configs are not available: this server has no [web] "
              "encryption_key.");
    goto cleanup;
  }
  if ((db_ids = resolve_actors(r, actors)) == NULL)
    goto cleanup;
  char *text = actor_json_dumps(value);
  if (text == NULL) {
    api_error(r, 500, "out of memory");
    goto cleanup;
  }
  json_t *stored = NULL;
  if (secret) {
    char *enc = NULL;
    int rc = actor_secret_encrypt(&r->ctx->access->secret, text, strlen(text), config_id, &enc);
    if (rc != 0) {
      actor_secret_free(text, 0);
      api_error(r, 500, "Could not encrypt the secret value: %s.", actor_strerror(rc));
      goto cleanup;
    }
    stored = json_string(enc);
    free(enc);
  } else {
    stored = json_incref(value);
  }
  actor_secret_free(text, 0); /* may hold a secret: wiped */
  char now[ACTOR_TIME_MAX];
  actor_time_format(actor_time_now_ms(), now);
  rec = json_pack(
      "{s:s, s:s, s:o, s:b, s:s, s:O, s:s, s:s, s:s, s:s}", "name", name, "config_id", config_id,
      "value", stored, "is_secret", secret, "actors", actors ? actors : "", "db_ids", db_ids,
      "owner", existing ? actor_json_str(existing, "owner", "") : r->ident.username, "tenant",
      r->ident.tenant, "create_time", existing ? actor_json_str(existing, "create_time", now) : now,
      "last_update_time", now);
  if (rec == NULL)
    api_error(r, 500, "out of memory");

cleanup:
  json_decref(db_ids);
  json_decref(body);
  return rec;
}

/* Adds (add=true) or removes config_id to/from the index of each db_id. */
static int index_update(api_req_t *r, const json_t *db_ids, const char *config_id, bool add) {
  size_t i;
  json_t *d;
  int rc = 0;
  json_array_foreach(db_ids, i, d) {
    char key[ACTORCFG_KEY_MAX];
    if (!json_is_string(d))
      continue;
    actorcfg_index_key(json_string_value(d), key);
    rc = add ? store_set_add(r->ctx->redis, key, config_id, NULL)
             : store_set_remove(r->ctx->redis, key, config_id);
    if (rc != 0)
      break;
  }
  return rc;
}

void api_configs_list(api_req_t *r) {
  static const api_listing_t CONFIGS = {"config", "config", "Configs retrieved successfully.",
                                        actorcfg_key, config_display};
  api_list_readable(r, KEY_CONFIGS, &CONFIGS);
}

void api_config_create(api_req_t *r) {
  /* The name comes from the body, which config_from_body reads again. */
  json_t *peek = api_body_object(r), *rec = NULL;
  if (peek == NULL)
    return;
  const char *name_in = NULL;
  if (api_field_string(r, peek, "name", &name_in)) {
    json_decref(peek);
    return;
  }
  char name[API_NAME_MAX + 1];
  if (name_in == NULL || *name_in == '\0') {
    json_decref(peek);
    api_error(r, 400, "name is required: the name of the config.");
    return;
  }
  if (!name_ok(name_in)) {
    json_decref(peek);
    api_error(r, 400,
              "Invalid name: a config name has 1 to 128 letters, digits and the "
              "characters - . _ ~");
    return;
  }
  snprintf(name, sizeof(name), "%s", name_in);
  json_decref(peek);
  char id[MODEL_KEY_MAX], key[ACTORCFG_KEY_MAX];
  model_db_id(r->ident.tenant, name, id);
  actorcfg_key(id, key);
  if ((rec = config_from_body(r, name, id, NULL)) == NULL)
    return;
  bool added = false;
  int rc = store_set_add(r->ctx->redis, KEY_CONFIGS, id, &added);
  if (rc != 0) {
    api_store_error(r, rc, "config");
    goto cleanup;
  }
  if (!added) {
    api_error(r, 400, "Config %s already exists.", name);
    goto cleanup;
  }
  rc = api_perms_grant(r, "config", id, r->ident.username, API_UPDATE);
  if (rc == 0)
    rc = store_record_put(r->ctx->redis, key, rec);
  if (rc == 0)
    rc = index_update(r, json_object_get(rec, "db_ids"), id, true);
  if (rc != 0) {
    /* Best-effort rollback of a create that already failed (the store is
     * likely down); the client gets that failure and may retry. */
    ACTOR_IGNORE(store_record_delete(r->ctx->redis, key));
    api_perms_forget(r, "config", id);
    ACTOR_IGNORE(store_set_remove(r->ctx->redis, KEY_CONFIGS, id));
    api_store_error(r, rc, "config");
    goto cleanup;
  }
  LOG_INFO("api", "config %s created by %s (%s)", id, r->ident.username,
           actor_json_bool(rec, "is_secret", false) ? "secret" : "not secret");
  api_ok(r, "Config created successfully.", config_display(r, rec));

cleanup:
  json_decref(rec);
}

void api_config_get(api_req_t *r) {
  json_t *rec = load_config(r, API_READ);
  if (rec == NULL)
    return;
  api_ok(r, "Config retrieved successfully.", config_display(r, rec));
  json_decref(rec);
}

void api_config_update(api_req_t *r) {
  json_t *old = load_config(r, API_UPDATE), *rec = NULL;
  if (old == NULL)
    return;
  const char *id = actor_json_str(old, "config_id", "");
  char key[ACTORCFG_KEY_MAX];
  actorcfg_key(id, key);
  if ((rec = config_from_body(r, actor_json_str(old, "name", ""), id, old)) == NULL)
    goto cleanup;
  int rc = index_update(r, json_object_get(old, "db_ids"), id, false);
  if (rc == 0)
    rc = store_record_put(r->ctx->redis, key, rec);
  if (rc == 0)
    rc = index_update(r, json_object_get(rec, "db_ids"), id, true);
  if (rc != 0) {
    api_store_error(r, rc, "config");
    goto cleanup;
  }
  api_ok(r, "Config updated successfully.", config_display(r, rec));

cleanup:
  json_decref(rec);
  json_decref(old);
}

void api_config_delete(api_req_t *r) {
  json_t *rec = load_config(r, API_UPDATE);
  if (rec == NULL)
    return;
  const char *id = actor_json_str(rec, "config_id", "");
  char key[ACTORCFG_KEY_MAX];
  actorcfg_key(id, key);
  int rc = index_update(r, json_object_get(rec, "db_ids"), id, false);
  if (rc == 0)
    rc = store_record_delete(r->ctx->redis, key);
  if (rc == 0 || rc == ACTOR_ENOTFOUND)
    rc = api_perms_forget(r, "config", id);
  if (rc == 0)
    rc = store_set_remove(r->ctx->redis, KEY_CONFIGS, id);
  if (rc != 0)
    api_store_error(r, rc, "config");
  else
    api_ok(r, "Config deleted successfully.", NULL);
  json_decref(rec);
}

void api_config_perms(api_req_t *r) {
  api_perms_route(r, "config", load_config, "config_id");
}

int api_configs_forget_actor(api_req_t *r, const char *db_id) {
  char key[ACTORCFG_KEY_MAX];
  actorcfg_index_key(db_id, key);
  return store_key_delete(r->ctx->redis, key, NULL);
}
