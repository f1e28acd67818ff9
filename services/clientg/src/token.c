/* Signing a worker's access token with libjwt: RS256 with the platform
 * private key, `kid` naming its public half, and the claims listed under
 * "platform tokens" in actor/auth.h. No I/O. */
#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "clientg.h"

int clientg_token_issue(const clientg_key_t *k, const clientg_req_t *req, const char *role,
                        long ttl, int64_t now, char **token) {
  *token = NULL;
  char user[ACTOR_AUTH_USER_MAX + ACTOR_AUTH_TENANT_MAX + 2];
  snprintf(user, sizeof(user), "%s@%s", req->owner, req->tenant);
  jwt_t *jwt = NULL;
  if (jwt_new(&jwt) != 0)
    return ACTOR_ENOMEM;
  int rc = ACTOR_EIO;
  if (jwt_add_header(jwt, "kid", k->kid) || jwt_add_grant(jwt, ACTOR_CLAIM_ENDUSER, user) ||
      jwt_add_grant(jwt, ACTOR_CLAIM_ROLE, role) ||
      jwt_add_grant(jwt, ACTOR_CLAIM_TENANT, req->tenant) ||
      jwt_add_grant(jwt, "iss", ACTOR_PLATFORM_ISSUER) ||
      jwt_add_grant(jwt, "jti", req->worker_id) ||
      (req->actor_id[0] && jwt_add_grant(jwt, "actor_id", req->actor_id)) ||
      jwt_add_grant_int(jwt, "iat", (long)now) || jwt_add_grant_int(jwt, "exp", (long)(now + ttl)))
    goto cleanup;
  if (jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)k->priv_pem, (int)k->priv_len))
    goto cleanup;
  *token = jwt_encode_str(jwt);
  rc = *token ? 0 : ACTOR_EIO;

cleanup:
  jwt_free(jwt); /* also wipes its copy of the key */
  return rc;
}
