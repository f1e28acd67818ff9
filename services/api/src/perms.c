/* Permissions (docs/auth.md): one map {user: LEVEL} per actor, alias and
 * config in a Redis hash, the one check every actor route passes through
 * (api_authorize, called by the router once {id} is resolved), the
 * /permissions routes, and the listings that show only what the caller
 * may READ (api_list_readable). Levels are NONE < READ < EXECUTE < UPDATE;
 * the creator gets UPDATE; an entry for ABACO_WORLD gives its level to every
 * user of the tenant; admins hold UPDATE on everything of their tenant.
 * Nonce routes need UPDATE even to read them: a nonce is a credential,
 * and a READ grant must not reveal an EXECUTE nonce. A store error while
 * checking denies (fail closed). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/store_record.h"

static const char *const LEVEL_NAMES[] = {"NONE", "READ", "EXECUTE", "UPDATE"};

const char *api_level_name(api_level_t level) {
  return level >= API_NONE && level <= API_UPDATE ? LEVEL_NAMES[level] : "NONE";
}

int api_level_parse(const char *text) {
  for (int i = API_NONE; text && i <= API_UPDATE; i++)
    if (strcasecmp(text, LEVEL_NAMES[i]) == 0)
      return i;
  return -1;
}

void api_perms_key(const char *kind, const char *id, char *out, size_t size) {
  snprintf(out, size, "abaco:perms:%s:%s", kind, id);
}

/* Whether an object id ("<TENANT>_...") may belong to the caller's tenant.
 * An actor's db_id tells exactly (its hashid holds no '_'); an alias or
 * config name may hold '_', so "DEV_STAGING_x" is both tenant DEV's
 * "STAGING_x" and DEV_STAGING's "x": their records' `tenant` decides
 * (api_record_in_tenant), which every load of one checks. */
static bool in_tenant(api_req_t *r, const char *kind, const char *id) {
  if (strcmp(kind, "actor") == 0)
    return model_db_id_in_tenant(id, r->ident.tenant);
  size_t n = strlen(r->ident.tenant);
  return id && strncmp(id, r->ident.tenant, n) == 0 && id[n] == '_';
}

bool api_record_in_tenant(api_req_t *r, const json_t *rec) {
  return strcmp(actor_json_str(rec, "tenant", ""), r->ident.tenant) == 0;
}

int api_level_of(api_req_t *r, const char *kind, const char *id, api_level_t *out) {
  *out = API_NONE;
  if (!in_tenant(r, kind, id))
    return 0;
  if (r->ident.admin) {
    *out = API_UPDATE;
    return 0;
  }
  if (r->level_read && r->db_id && strcmp(kind, "actor") == 0 && strcmp(id, r->db_id) == 0) {
    *out = (api_level_t)r->level; /* read with the actor (api_resolve_actor_send) */
    return 0;
  }
  char key[MODEL_KEY_MAX + 32];
  api_perms_key(kind, id, key, sizeof(key));
  const char *users[] = {r->ident.username, API_WORLD_USER, NULL};
  json_t *levels = NULL;
  int rc = store_hash_get_fields(r->ctx->redis, key, users, &levels);
  const char *user;
  json_t *v;
  json_object_foreach(levels, user, v) {
    int l = api_level_parse(json_string_value(v));
    if (l > (int)*out)
      *out = (api_level_t)l;
  }
  json_decref(levels);
  return rc;
}

int api_own_entry(api_req_t *r, const char *kind, const char *id, bool *out) {
  *out = false;
  if (!in_tenant(r, kind, id))
    return 0;
  char key[MODEL_KEY_MAX + 32];
  api_perms_key(kind, id, key, sizeof(key));
  return store_hash_exists(r->ctx->redis, key, r->ident.username, out);
}

bool api_has_level(api_req_t *r, const json_t *actor, api_level_t level) {
  const char *db_id = json_string_value(json_object_get(actor, "db_id"));
  api_level_t have = API_NONE;
  int rc = api_level_of(r, "actor", db_id, &have);
  if (rc != 0) {
    LOG_ERROR("api", "permissions of actor %s: %s (access denied)", db_id ? db_id : "?",
              actor_strerror(rc));
    return false;
  }
  return have >= level;
}

int api_require_level(api_req_t *r, const char *kind, const char *id, api_level_t level,
                      const char *noun) {
  api_level_t have = API_NONE;
  int rc = api_level_of(r, kind, id, &have);
  if (rc != 0) {
    api_store_error(r, rc, "permission");
    return -1;
  }
  if (have >= level)
    return 0;
  api_error(r, 400, "Not authorized -- you do not have access to this %s.", noun);
  return -1;
}

int api_perms_grant(api_req_t *r, const char *kind, const char *id, const char *user,
                    api_level_t level) {
  char key[MODEL_KEY_MAX + 32];
  api_perms_key(kind, id, key, sizeof(key));
  if (level == API_NONE) {
    int rc = store_redis_hdel(r->ctx->redis, key, user);
    return rc == ACTOR_ENOTFOUND ? 0 : rc;
  }
  const char *name = api_level_name(level);
  return store_hash_set(r->ctx->redis, key, user, name, strlen(name));
}

int api_perms_forget(api_req_t *r, const char *kind, const char *id) {
  char key[MODEL_KEY_MAX + 32];
  api_perms_key(kind, id, key, sizeof(key));
  return store_key_delete(r->ctx->redis, key, NULL);
}

static int perms_map(api_req_t *r, const char *kind, const char *id, json_t **out) {
  char key[MODEL_KEY_MAX + 32];
  api_perms_key(kind, id, key, sizeof(key));
  return store_hash_get_all(r->ctx->redis, key, out);
}

static void perms_answer(api_req_t *r, const char *kind, const char *id) {
  json_t *map = NULL;
  int rc = perms_map(r, kind, id, &map);
  if (rc != 0) {
    api_store_error(r, rc, "permission");
    return;
  }
  api_ok(r, "Permissions retrieved successfully.", map);
}

static void perms_update(api_req_t *r, const char *kind, const char *id) {
  json_t *body = api_body_object(r);
  if (body == NULL)
    return;
  const char *user = NULL, *level = NULL;
  if (api_field_string(r, body, "user", &user) || api_field_string(r, body, "level", &level))
    goto cleanup;
  if (user == NULL || *user == '\0') {
    api_error(r, 400, "user is required: the user to give the permission to.");
    goto cleanup;
  }
  if (api_check_text(r, API_LIM_PERM_USER, user) != 0)
    goto cleanup;
  int l = api_level_parse(level);
  if (l < 0) {
    api_error(r, 400,
              "Invalid level: level is required and must be one of NONE, READ, EXECUTE "
              "or UPDATE.");
    goto cleanup;
  }
  int rc = api_perms_grant(r, kind, id, user, (api_level_t)l);
  if (rc != 0) {
    api_store_error(r, rc, "permission");
    goto cleanup;
  }
  LOG_INFO("api", "%s %s: %s gave %s to %s", kind, id, r->ident.username, LEVEL_NAMES[l], user);
  json_t *map = NULL;
  rc = perms_map(r, kind, id, &map);
  if (rc != 0)
    api_store_error(r, rc, "permission");
  else
    api_ok(r, "Permission added successfully.", map);

cleanup:
  json_decref(body);
}

int api_actor_registered(api_req_t *r, const char *db_id) {
  int rc = api_perms_grant(r, "actor", db_id, r->ident.username, API_UPDATE);
  if (rc == 0)
    rc = store_counter_add(r->ctx->redis, API_KEY_ACTORS_TOTAL, r->ident.tenant, 1, NULL);
  return rc;
}

void api_perms_route(api_req_t *r, const char *kind, api_load_fn load, const char *id_field) {
  bool get = strcmp(r->http->method, "GET") == 0;
  json_t *obj = load(r, get ? API_READ : API_UPDATE);
  if (obj == NULL)
    return;
  const char *id = actor_json_str(obj, id_field, "");
  if (get)
    perms_answer(r, kind, id);
  else
    perms_update(r, kind, id);
  json_decref(obj);
}

/* The actor of an actor route: the router resolved it and checked the
 * level (api_authorize). */
static json_t *routed_actor(api_req_t *r, api_level_t level) {
  (void)level;
  return json_incref(r->actor);
}

void api_actor_perms(api_req_t *r) {
  api_perms_route(r, "actor", routed_actor, "db_id");
}

void api_list_readable(api_req_t *r, const char *index_key, const api_listing_t *l) {
  json_t *ids = NULL;
  int rc = store_set_members(r->ctx->redis, index_key, &ids);
  if (rc != 0) {
    api_store_error(r, rc, l->noun);
    return;
  }
  json_t *out = json_array();
  rc = out ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < json_array_size(ids); i++) {
    const char *id = json_string_value(json_array_get(ids, i));
    if (l->kind) { /* api_level_of: NONE outside the caller's tenant */
      api_level_t have = API_NONE;
      rc = api_level_of(r, l->kind, id, &have);
      if (rc != 0 || have < API_READ)
        continue;
    }
    char key[API_RECORD_KEY_MAX];
    json_t *rec = NULL;
    l->key(id, key);
    rc = store_record_get(r->ctx->redis, key, &rec);
    if (rc == ACTOR_ENOTFOUND || (rc == 0 && !api_record_in_tenant(r, rec))) {
      rc = 0; /* claimed but not written yet, or going; or another tenant's */
      json_decref(rec);
      continue;
    }
    if (rc == 0 && json_array_append_new(out, l->display(r, rec)) != 0)
      rc = ACTOR_ENOMEM;
    json_decref(rec);
  }
  json_decref(ids);
  if (rc != 0) {
    json_decref(out);
    api_store_error(r, rc, l->noun);
    return;
  }
  api_ok(r, l->message, out);
}

/* What a request on an actor route needs (docs/auth.md). */
static api_level_t required_level(const char *method, const char *pattern) {
  size_t n = strlen(pattern);
  if (strstr(pattern, "/nonces") != NULL)
    return API_UPDATE;
  if (strcmp(method, "GET") == 0)
    return API_READ;
  if (strcmp(method, "POST") == 0 && n >= 9 && strcmp(pattern + n - 9, "/messages") == 0)
    return API_EXECUTE;
  return API_UPDATE;
}

int api_authorize(api_req_t *r, const char *pattern, bool actor_route) {
  bool nonce = r->ident.nonce[0] != '\0';
  if (nonce && (!actor_route || strstr(pattern, "/nonces") || strstr(pattern, "/permissions"))) {
    api_error(r, 400,
              "Not authorized -- a nonce only grants access to the actor or alias it "
              "was made for.");
    return -1;
  }
  if (!actor_route)
    return 0;
  api_level_t level = required_level(r->http->method, pattern);
  if (!api_has_level(r, r->actor, level)) {
    api_error(r, 400, "Not authorized -- you do not have access to this actor.");
    return -1;
  }
  if (!nonce)
    return 0;
  char as_actor[MODEL_KEY_MAX + 16], as_alias[MODEL_KEY_MAX + 16];
  snprintf(as_actor, sizeof(as_actor), "actor:%s", r->db_id);
  snprintf(as_alias, sizeof(as_alias), "alias:%s_%s", r->ident.tenant, r->params[0]);
  if (strcmp(r->ident.nonce_scope, as_actor) != 0 && strcmp(r->ident.nonce_scope, as_alias) != 0) {
    api_error(r, 400,
              "Not authorized -- a nonce only grants access to the actor or alias it "
              "was made for.");
    return -1;
  }
  if ((int)level > r->ident.nonce_level) {
    api_error(r, 400, "Not authorized -- the nonce's level (%s) does not allow this request.",
              api_level_name((api_level_t)r->ident.nonce_level));
    return -1;
  }
  return api_nonce_redeem(r);
}

json_t *api_checked_record(api_req_t *r, int rc, json_t *rec, const char *kind,
                           const char *id_field, api_level_t level, const char *noun) {
  if (rc == 0 && !api_record_in_tenant(r, rec)) { /* the same id in another tenant */
    json_decref(rec);
    rec = NULL;
    rc = ACTOR_ENOTFOUND;
  }
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "%s %s not found.", noun, r->params[0]);
    return NULL;
  }
  if (rc != 0) {
    api_store_error(r, rc, kind);
    return NULL;
  }
  if (api_require_level(r, kind, actor_json_str(rec, id_field, ""), level, kind) != 0) {
    json_decref(rec);
    return NULL;
  }
  return rec;
}
