/* Finding the token in a request: `X-Jwt-Assertion-<TENANT>` (any case,
 * the first such header wins) or `Authorization: Bearer`, and the one rule
 * for tenant names. Works on plain (name, value) pairs so the HTTP layer's
 * types stay out of libactor's auth module. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "actor/auth.h"
#include "actor/errors.h"

int actor_tenant_norm(const char *in, char *out, size_t size) {
  if (out == NULL || size == 0)
    return ACTOR_EINVAL;
  *out = '\0';
  if (in == NULL || *in == '\0')
    return ACTOR_EINVAL;
  size_t i = 0;
  for (; in[i]; i++) {
    char c = in[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'; /* ASCII only, whatever the locale */
    if (!ok || i + 1 >= size || i + 1 >= ACTOR_AUTH_TENANT_MAX) {
      *out = '\0';
      return ACTOR_EINVAL;
    }
    out[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
  }
  out[i] = '\0';
  return 0;
}

int actor_jwt_assertion_tenant(const char *name, char *tenant, size_t size) {
  size_t plen = strlen(ACTOR_JWT_HEADER_PREFIX);
  if (name == NULL || strncasecmp(name, ACTOR_JWT_HEADER_PREFIX, plen) != 0 || name[plen] == '\0')
    return 0;
  if (tenant != NULL && size > 0) {
    size_t i = 0;
    for (const char *p = name + plen; *p && i + 1 < size; p++)
      tenant[i++] = (char)toupper((unsigned char)*p);
    tenant[i] = '\0';
  }
  return 1;
}

const char *actor_jwt_find_assertion(const actor_auth_kv_t *kv, size_t n, char *tenant,
                                     size_t size) {
  for (size_t i = 0; i < n; i++)
    if (kv[i].value != NULL && actor_jwt_assertion_tenant(kv[i].key, tenant, size))
      return kv[i].value;
  if (tenant != NULL && size > 0)
    *tenant = '\0';
  return NULL;
}

const char *actor_jwt_bearer(const char *authorization) {
  if (authorization == NULL)
    return NULL;
  const char *p = authorization;
  while (*p == ' ' || *p == '\t')
    p++;
  if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
    return NULL;
  p += 6;
  while (*p == ' ' || *p == '\t')
    p++;
  return *p ? p : NULL;
}
