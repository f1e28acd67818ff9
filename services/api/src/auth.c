/* Authentication, actor resolution and permission checks: the one place
 * every request passes before its handler, and the one place handlers ask
 * "may the caller do this to that actor?". With [web] access_control =
 * none, the caller is `anonymous` with every role, in the tenant named by
 * the `tenant` header (or [web] tenant_name), and holds every level on
 * every actor of that tenant. JWTs, nonces, aliases and the stored
 * permissions slot in here. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/model.h"
#include "api.h"

int api_authenticate(api_req_t *r) {
  const char *tenant = ahttp_kvs_get(&r->http->headers, "tenant", 1);
  if (tenant == NULL || *tenant == '\0')
    tenant = r->ctx->tenant_name;
  size_t i = 0;
  for (; tenant[i] && i + 1 < sizeof(r->ident.tenant); i++) {
    unsigned char c = (unsigned char)tenant[i];
    if (!isalnum(c) && c != '-' && c != '.') {
      api_error(r, 400, "Invalid tenant: '%s'.", tenant);
      return -1;
    }
    r->ident.tenant[i] = (char)toupper(c);
  }
  r->ident.tenant[i] = '\0';
  snprintf(r->ident.username, sizeof(r->ident.username), "anonymous");
  r->ident.admin = true;
  r->ident.privileged = true;
  return 0;
}

int api_lookup_actor(api_req_t *r, const char *id, json_t **out) {
  char db_id[MODEL_KEY_MAX];
  *out = NULL;
  if (id == NULL || *id == '\0' || strchr(id, '_') != NULL)
    return ACTOR_ENOTFOUND; /* ids are hashids, which never hold a '_' */
  model_db_id(r->ident.tenant, id, db_id);
  return model_actor_get(r->ctx->redis, db_id, out);
}

bool api_has_level(api_req_t *r, const json_t *actor, api_level_t level) {
  (void)r;
  (void)actor;
  (void)level;
  return true; /* access_control = none */
}

int api_require_admin(api_req_t *r) {
  if (r->ident.admin)
    return 0;
  api_error(r, 400, "Not authorized -- missing required role.");
  return -1;
}

int api_require_privileged(api_req_t *r, const char *field) {
  if (r->ident.privileged || r->ident.admin)
    return 0;
  api_error(r, 400, "Not authorized -- only privileged users may set %s.", field);
  return -1;
}

int api_forget_actor(api_req_t *r, const char *db_id) {
  (void)r;
  (void)db_id;
  return 0; /* no permissions, nonces or aliases are stored yet */
}

int api_resolve_actor(api_req_t *r, const char *id) {
  int rc = api_lookup_actor(r, id, &r->actor);
  if (rc == ACTOR_ENOTFOUND) {
    api_error(r, 404, "Actor with identifier '%s' not found", id);
    return -1;
  }
  if (rc != 0) {
    api_store_error(r, rc, "actor");
    return -1;
  }
  r->db_id = json_string_value(json_object_get(r->actor, "db_id"));
  if (r->db_id == NULL) {
    api_error(r, 500, "Actor record '%s' is damaged: no db_id.", id);
    return -1;
  }
  return 0;
}
