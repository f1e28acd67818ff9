/* Test plugins for test_plugin.c, one source built several ways
 * (tests/unit/CMakeLists.txt): FAKE_KIND (1 dns, 2 auth), FAKE_ABI (the
 * ABI it claims), FAKE_NOSYM (no descriptor symbol), FAKE_INITFAIL (init
 * fails). The DNS one appends each call to the file of [plugins]
 * fake_log and fails create_entry for the address 10.9.9.9. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/plugin.h"

typedef struct {
  char log[512];
} fake_t;

static int fake_init(const actor_plugin_host_t *h, void **state, actor_plugin_err_t *err) {
#ifdef FAKE_INITFAIL
  (void)h;
  (void)state;
  snprintf(err->code, sizeof(err->code), "FakeInit");
  snprintf(err->message, sizeof(err->message), "fake_setting is %s",
           h->setting(h, "fake_setting", "unset"));
  return -1;
#else
  fake_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return -1;
  snprintf(s->log, sizeof(s->log), "%s", h->setting(h, "fake_log", ""));
  h->log(h, ACTOR_PLUGIN_LOG_INFO, "fake plugin up");
  (void)err;
  *state = s;
  return 0;
#endif
}

static void fake_fini(void *state) { free(state); }

static void note(fake_t *s, const char *what, const char *a, const char *b) {
  if (s->log[0] == '\0')
    return;
  FILE *f = fopen(s->log, "a");
  if (f != NULL) {
    fprintf(f, "%s %s %s\n", what, a, b);
    fclose(f);
  }
}

static int fake_name(void *state, const actor_dns_instance_t *inst, char *out, size_t len,
                     actor_plugin_err_t *err) {
  (void)state;
  (void)err;
  snprintf(out, len, "%s.fake.test", inst->id);
  return 0;
}

static int fake_create(void *state, const char *name, const char *ip, actor_plugin_err_t *err) {
  if (strcmp(ip, "10.9.9.9") == 0) {
    snprintf(err->code, sizeof(err->code), "FakeRefused");
    snprintf(err->message, sizeof(err->message), "no entry for %s", ip);
    return -1;
  }
  note(state, "create", name, ip);
  return 0;
}

static int fake_delete(void *state, const char *name, const char *ip, actor_plugin_err_t *err) {
  (void)err;
  note(state, "delete", name, ip);
  return 0;
}

static const actor_dns_ops_t DNS_OPS = {fake_name, fake_create, fake_delete};

static int fake_identify(void *state, const actor_auth_request_t *req, char *user,
                         size_t user_len, char *groups, size_t groups_len,
                         actor_plugin_err_t *err) {
  (void)state;
  (void)req;
  (void)err;
  snprintf(user, user_len, "fake");
  snprintf(groups, groups_len, "g");
  return ACTOR_AUTH_OK;
}

static const actor_auth_ops_t AUTH_OPS = {fake_identify};

#ifndef FAKE_NOSYM
ACTOR_PLUGIN_EXPORT const actor_plugin_desc_t abaco_plugin = {
    .abi = FAKE_ABI,
    .kind = FAKE_KIND,
    .name = "fake",
    .init = fake_init,
    .fini = fake_fini,
    .ops = FAKE_KIND == ACTOR_PLUGIN_DNS ? (const void *)&DNS_OPS : (const void *)&AUTH_OPS,
};
#else
/* everything but the descriptor, under another name */
ACTOR_PLUGIN_EXPORT const actor_plugin_desc_t not_a_plugin = {
    .abi = FAKE_ABI, .kind = FAKE_KIND, .name = "fake", .init = fake_init, .fini = fake_fini,
    .ops = FAKE_KIND == ACTOR_PLUGIN_DNS ? (const void *)&DNS_OPS : (const void *)&AUTH_OPS};
#endif
