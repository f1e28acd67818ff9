/* The plugin loader (actor/plugin.h): dlopen of the file [plugins] <kind>
 * names in [plugins] dir, its descriptor checked (symbol, ABI, kind), its
 * init run with a host giving it its settings, the log and signed AWS
 * requests. Every failure is ACTOR_ECONFIG logged naming the file and the
 * key, so the service stops at start. */
#include "actor/plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/log.h"

#define PLUGIN_LOG "plugin"

struct actor_plugin_s {
  void *dl;
  const actor_plugin_desc_t *desc;
  void *state;
  actor_plugin_host_t host;
  const actor_config_t *cfg;
  aws_t *aws;
  char path[1024];
};

const char *actor_plugin_kind_name(actor_plugin_kind_t kind) {
  switch (kind) {
  case ACTOR_PLUGIN_DNS: return "dns";
  case ACTOR_PLUGIN_AUTH: return "auth";
  }
  return "unknown";
}

static const char *host_setting(const actor_plugin_host_t *h, const char *key, const char *def) {
  const actor_plugin_t *p = h->ctx;
  return actor_config_get(p->cfg, "plugins", key, def);
}

static void host_log(const actor_plugin_host_t *h, int level, const char *msg) {
  ACTOR_LOG(level, PLUGIN_LOG, "%s: %s", h->file, msg);
}

static int host_aws(const actor_plugin_host_t *h, const char *service, const char *method,
                    const char *path, const char *body, char **answer, size_t *len,
                    actor_plugin_err_t *err) {
  const actor_plugin_t *p = h->ctx;
  *answer = NULL;
  if (p->aws == NULL) {
    snprintf(err->code, sizeof(err->code), "NoAwsClient");
    snprintf(err->message, sizeof(err->message), "this service has no AWS client");
    return -1;
  }
  aws_result_t res;
  if (aws_rest(p->aws, service, method, path, body, answer, len, &res) != 0) {
    snprintf(err->code, sizeof(err->code), "%s", res.code);
    snprintf(err->message, sizeof(err->message), "%s", res.message[0] ? res.message : res.code);
    return -1;
  }
  return 0;
}

static void host_free(void *ptr) { free(ptr); }

int actor_plugin_open(const actor_config_t *cfg, const char *path, const char *key,
                      actor_plugin_kind_t kind, aws_t *aws, actor_plugin_t **out) {
  *out = NULL;
  actor_plugin_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return ACTOR_ENOMEM;
  if (snprintf(p->path, sizeof(p->path), "%s", path) >= (int)sizeof(p->path)) {
    LOG_ERROR(PLUGIN_LOG, "%s: the plugin's path is too long", key);
    goto bad;
  }
  p->cfg = cfg;
  p->aws = aws;
  dlerror();
  p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (p->dl == NULL) {
    const char *why = dlerror();
    LOG_ERROR(PLUGIN_LOG, "%s = %s: cannot load %s: %s", key, path, path, why ? why : "dlopen");
    goto bad;
  }
  dlerror();
  p->desc = dlsym(p->dl, ACTOR_PLUGIN_SYMBOL);
  if (p->desc == NULL) {
    LOG_ERROR(PLUGIN_LOG, "%s: plugin %s has no symbol %s (not a plugin of this platform)",
              key, path, ACTOR_PLUGIN_SYMBOL);
    goto bad;
  }
  if (p->desc->abi != ACTOR_PLUGIN_ABI) {
    LOG_ERROR(PLUGIN_LOG, "%s: plugin %s was built for plugin ABI %u, this platform has %u: "
                          "rebuild it against actor/plugin.h",
              key, path, (unsigned)p->desc->abi, ACTOR_PLUGIN_ABI);
    goto bad;
  }
  if (p->desc->kind != (uint32_t)kind) {
    LOG_ERROR(PLUGIN_LOG, "%s: plugin %s is of kind %s, not %s", key, path,
              actor_plugin_kind_name((actor_plugin_kind_t)p->desc->kind),
              actor_plugin_kind_name(kind));
    goto bad;
  }
  const void *ops = p->desc->ops;
  bool complete = ops != NULL;
  if (complete && kind == ACTOR_PLUGIN_DNS) {
    const actor_dns_ops_t *d = ops;
    complete = d->display_name && d->create_entry && d->delete_entry;
  } else if (complete && kind == ACTOR_PLUGIN_AUTH) {
    complete = ((const actor_auth_ops_t *)ops)->identify != NULL;
  }
  if (!complete) {
    LOG_ERROR(PLUGIN_LOG, "%s: plugin %s lacks some of its %s operations", key, path,
              actor_plugin_kind_name(kind));
    goto bad;
  }
  p->host = (actor_plugin_host_t){.abi = ACTOR_PLUGIN_ABI,
                                  .file = p->path,
                                  .setting = host_setting,
                                  .log = host_log,
                                  .aws_request = host_aws,
                                  .free = host_free,
                                  .ctx = p};
  if (p->desc->init != NULL) {
    actor_plugin_err_t err;
    memset(&err, 0, sizeof(err));
    if (p->desc->init(&p->host, &p->state, &err) != 0) {
      LOG_ERROR(PLUGIN_LOG, "%s: plugin %s failed to initialise: %s%s%s", key, path,
                err.code[0] ? err.code : "", err.code[0] ? ": " : "",
                err.message[0] ? err.message : "no reason given");
      p->desc = NULL; /* no fini for what did not start */
      goto bad;
    }
  }
  LOG_INFO(PLUGIN_LOG, "%s plugin %s loaded from %s", actor_plugin_kind_name(kind),
           p->desc->name ? p->desc->name : "(unnamed)", path);
  *out = p;
  return 0;
bad:
  p->desc = NULL;
  actor_plugin_unload(p);
  return ACTOR_ECONFIG;
}

int actor_plugin_load(const actor_config_t *cfg, actor_plugin_kind_t kind, aws_t *aws,
                      actor_plugin_t **out) {
  *out = NULL;
  const char *kname = actor_plugin_kind_name(kind);
  const char *file = actor_config_get(cfg, "plugins", kname, "");
  if (*file == '\0')
    return 0;
  char key[64];
  snprintf(key, sizeof(key), "[plugins] %s", kname);
  if (strchr(file, '/') != NULL) {
    LOG_ERROR(PLUGIN_LOG, "%s = %s: a file name in [plugins] dir, not a path", key, file);
    return ACTOR_ECONFIG;
  }
  const char *dir = actor_config_get(cfg, "plugins", "dir", "build/plugins");
  if (*dir == '\0') {
    LOG_ERROR(PLUGIN_LOG, "%s = %s but [plugins] dir is empty", key, file);
    return ACTOR_ECONFIG;
  }
  char path[1024];
  if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path)) {
    LOG_ERROR(PLUGIN_LOG, "[plugins] dir: too long");
    return ACTOR_ECONFIG;
  }
  /* dlopen searches the library path for a name without '/': dir always
   * has one here ("./x" for a relative dir), so the file is the one named */
  char rel[1030];
  if (path[0] != '/') {
    snprintf(rel, sizeof(rel), "./%s", path);
    return actor_plugin_open(cfg, rel, key, kind, aws, out);
  }
  return actor_plugin_open(cfg, path, key, kind, aws, out);
}

void actor_plugin_unload(actor_plugin_t *p) {
  if (p == NULL)
    return;
  if (p->desc != NULL && p->desc->fini != NULL)
    p->desc->fini(p->state);
  if (p->dl != NULL)
    dlclose(p->dl);
  free(p);
}

const void *actor_plugin_ops(const actor_plugin_t *p) { return p->desc->ops; }
void *actor_plugin_state(const actor_plugin_t *p) { return p->state; }
const char *actor_plugin_file(const actor_plugin_t *p) { return p->path; }
const char *actor_plugin_name(const actor_plugin_t *p) {
  return p->desc->name ? p->desc->name : "";
}
