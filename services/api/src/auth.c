/* Authentication and actor resolution: the one place every request passes
 * before its handler. With [web] access_control = none, the caller is
 * `anonymous` with every role, in the tenant named by the `tenant` header
 * (or [web] tenant_name). */
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

int api_resolve_actor(api_req_t *r, const char *id) {
  char db_id[MODEL_KEY_MAX];
  model_db_id(r->ident.tenant, id, db_id);
  int rc = model_actor_get(r->ctx->redis, db_id, &r->actor);
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
