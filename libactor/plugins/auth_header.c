/* The header auth plugin ([web] access_control = plugin): the user and
 * groups a front proxy (Apache mod_auth_*, oauth2-proxy, Shibboleth) sets
 * in request headers, as MLiy read REMOTE_USER and its group headers.
 *
 *   [plugins] header_user   the user's header (default X-Remote-User)
 *   [plugins] header_groups the groups' header, comma separated
 *                           (default X-Remote-Groups)
 *
 * The user name is cleaned up as MLiy's did: blanks trimmed, a Windows
 * domain (`CORP\jdoe`) and a realm or mail domain (`jdoe@CORP.ORG`)
 * removed; what is left must be 1 to 64 letters, digits, '_', '-' or '.'.
 * Groups are trimmed and empty ones dropped. Only safe behind a proxy that
 * removes client-supplied copies of both headers (docs/auth.md). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/plugin.h"

typedef struct {
  char user_header[128], groups_header[128];
} header_state_t;

static int set_header_name(char *dst, size_t len, const char *v, const char *key,
                           actor_plugin_err_t *err) {
  size_t n = strlen(v);
  bool ok = n > 0 && n < len;
  for (size_t i = 0; ok && i < n; i++)
    ok = isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_';
  if (!ok) {
    snprintf(err->code, sizeof(err->code), "BadSetting");
    snprintf(err->message, sizeof(err->message),
             "[plugins] %s = '%.100s': not a header name (letters, digits, '-', '_')", key, v);
    return -1;
  }
  memcpy(dst, v, n + 1);
  return 0;
}

static int header_init(const actor_plugin_host_t *h, void **state, actor_plugin_err_t *err) {
  header_state_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    snprintf(err->message, sizeof(err->message), "out of memory");
    return -1;
  }
  if (set_header_name(s->user_header, sizeof(s->user_header),
                      h->setting(h, "header_user", "X-Remote-User"), "header_user", err) != 0 ||
      set_header_name(s->groups_header, sizeof(s->groups_header),
                      h->setting(h, "header_groups", "X-Remote-Groups"), "header_groups",
                      err) != 0) {
    free(s);
    return -1;
  }
  *state = s;
  return 0;
}

static void header_fini(void *state) { free(state); }

/* MLiy's username clean-up, into out: NULL when nothing valid is left. */
static const char *clean_user(const char *v, char *out, size_t len) {
  while (*v == ' ' || *v == '\t')
    v++;
  const char *bs = strrchr(v, '\\');
  if (bs != NULL)
    v = bs + 1;
  size_t n = strcspn(v, "@");
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  if (n == 0 || n > 64 || n >= len)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.')
      return NULL;
  memcpy(out, v, n);
  out[n] = '\0';
  return out;
}

static int header_identify(void *state, const actor_auth_request_t *req, char *user,
                           size_t user_len, char *groups, size_t groups_len,
                           actor_plugin_err_t *err) {
  const header_state_t *s = state;
  const char *u = req->header(req->req, s->user_header);
  if (u == NULL || *u == '\0') {
    snprintf(err->code, sizeof(err->code), "NoUser");
    snprintf(err->message, sizeof(err->message), "no %s header: the request was not "
             "authenticated by the front proxy", s->user_header);
    return ACTOR_AUTH_NONE;
  }
  if (clean_user(u, user, user_len) == NULL) {
    snprintf(err->code, sizeof(err->code), "BadUser");
    snprintf(err->message, sizeof(err->message), "the %s header is not a user name "
             "(1 to 64 letters, digits, '_', '-' or '.', after a DOMAIN\\ prefix and an "
             "@realm are removed)", s->user_header);
    return ACTOR_AUTH_FAIL;
  }
  const char *g = req->header(req->req, s->groups_header);
  size_t o = 0;
  groups[0] = '\0';
  while (g != NULL && *g) {
    size_t n = strcspn(g, ",");
    const char *b = g, *e = g + n;
    while (b < e && isspace((unsigned char)*b))
      b++;
    while (e > b && isspace((unsigned char)e[-1]))
      e--;
    if (e > b) {
      size_t k = (size_t)(e - b);
      if (o + k + 2 > groups_len) {
        snprintf(err->code, sizeof(err->code), "BadGroups");
        snprintf(err->message, sizeof(err->message), "the %s header is longer than %zu "
                 "characters", s->groups_header, groups_len - 1);
        return ACTOR_AUTH_FAIL;
      }
      if (o > 0)
        groups[o++] = ',';
      memcpy(groups + o, b, k);
      o += k;
      groups[o] = '\0';
    }
    g += n;
    if (*g == ',')
      g++;
  }
  return ACTOR_AUTH_OK;
}

static const actor_auth_ops_t OPS = {.identify = header_identify};

ACTOR_PLUGIN_EXPORT const actor_plugin_desc_t abaco_plugin = {
    .abi = ACTOR_PLUGIN_ABI,
    .kind = ACTOR_PLUGIN_AUTH,
    .name = "header",
    .init = header_init,
    .fini = header_fini,
    .ops = &OPS,
};
