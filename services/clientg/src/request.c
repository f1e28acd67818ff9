/* A `clients` request body -> a checked clientg_req_t. No I/O, so every
 * rule is unit-tested without servers:
 *   {command: "new"|"delete", tenant, actor_id, worker_id, owner, secret}
 * The secret is compared through SHA-256 digests with CRYPTO_memcmp, so
 * neither its content nor its length leaks through timing. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "actor/errors.h"
#include "clientg.h"

static bool secret_ok(const char *given, const char *want) {
  if (given == NULL || want == NULL || *want == '\0')
    return false;
  unsigned char a[32], b[32];
  unsigned int n = 0;
  if (!EVP_Digest(given, strlen(given), a, &n, EVP_sha256(), NULL) ||
      !EVP_Digest(want, strlen(want), b, &n, EVP_sha256(), NULL))
    return false;
  return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/* Copies a string field that must match `allowed` (a ctype-like test);
 * required fields must be present and non-empty. */
static int field(const json_t *req, const char *name, bool required, int (*allowed)(int c),
                 char *out, size_t size, char *err, size_t errlen) {
  const json_t *v = json_object_get(req, name);
  *out = '\0';
  if (v == NULL || json_is_null(v)) {
    if (required)
      return actor_errorf(ACTOR_EINVAL, err, errlen, "missing %s", name);
    return 0;
  }
  const char *s = json_string_value(v);
  if (s == NULL)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "%s is not a string", name);
  size_t n = json_string_length(v);
  if (n == 0 && required)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "missing %s", name);
  if (n >= size)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "%s is too long", name);
  for (size_t i = 0; i < n; i++)
    if (!allowed((unsigned char)s[i]))
      return actor_errorf(ACTOR_EINVAL, err, errlen, "%s holds a character that is not allowed",
                          name);
  memcpy(out, s, n + 1);
  return 0;
}

static int id_char(int c) {
  return isalnum(c) || c == '-' || c == '_' || c == '.';
}

/* Tenant names: letters, digits, '_', '-', '.' (actor_tenant_norm). */
static int tenant_char(int c) {
  return id_char(c);
}

/* A user name: printable, not '@' (it ends the name in the enduser claim)
 * and not ',' or blanks. */
static int owner_char(int c) {
  return c > 0x20 && c != 0x7f && c != '@' && c != ',';
}

int clientg_request_parse(const void *body, size_t len, const char *secret, clientg_req_t *out,
                          char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  if (err != NULL && errlen > 0)
    *err = '\0';
  json_t *req = NULL;
  if (chan_json_decode(body, len, CLIENTG_MAX_BODY, &req) != 0 || !json_is_object(req)) {
    json_decref(req);
    return actor_errorf(ACTOR_EINVAL, err, errlen, "the request is not a JSON object");
  }
  int rc = 0;
  if (!secret_ok(json_string_value(json_object_get(req, "secret")), secret)) {
    rc = actor_errorf(ACTOR_EAUTH, err, errlen,
                      json_object_get(req, "secret") ? "bad secret" : "missing secret");
    /* For the log only: the ids it claims, when they are well formed. */
    if (field(req, "tenant", false, tenant_char, out->tenant, sizeof(out->tenant), NULL, 0))
      out->tenant[0] = '\0';
    if (field(req, "worker_id", false, id_char, out->worker_id, sizeof(out->worker_id), NULL, 0))
      out->worker_id[0] = '\0';
    goto cleanup;
  }
  const char *cmd = json_string_value(json_object_get(req, "command"));
  if (cmd != NULL && strcmp(cmd, "new") == 0)
    out->cmd = CLIENTG_NEW;
  else if (cmd != NULL && strcmp(cmd, "delete") == 0)
    out->cmd = CLIENTG_DELETE;
  else {
    rc = actor_errorf(ACTOR_EINVAL, err, errlen, "command must be \"new\" or \"delete\"");
    goto cleanup;
  }
  bool is_new = out->cmd == CLIENTG_NEW;
  if ((rc = field(req, "tenant", true, tenant_char, out->tenant, sizeof(out->tenant), err,
                  errlen)) ||
      (rc = field(req, "worker_id", true, id_char, out->worker_id, sizeof(out->worker_id), err,
                  errlen)) ||
      (rc = field(req, "actor_id", is_new, id_char, out->actor_id, sizeof(out->actor_id), err,
                  errlen)) ||
      (rc = field(req, "owner", is_new, owner_char, out->owner, sizeof(out->owner), err, errlen)))
    goto cleanup;
  for (char *p = out->tenant; *p; p++)
    *p = (char)toupper((unsigned char)*p);

cleanup:
  json_decref(req);
  return rc;
}
