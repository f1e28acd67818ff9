/* Plugins: shared objects a site drops into `[plugins] dir` to extend the
 * platform without patching it (docs/configuration.md "[plugins]").
 *
 * A plugin exports one symbol, ACTOR_PLUGIN_SYMBOL, an
 * actor_plugin_desc_t naming the ABI it was built for and its kind. A
 * service loads at most one plugin per kind, the file named by
 * `[plugins] <kind>` (dns, auth) in `[plugins] dir`; a file that cannot be
 * opened, lacks the symbol, was built for another ABI or another kind, or
 * whose init fails stops the service at start with an error naming the
 * file and the key.
 *
 * The ABI is this header: plain C structs and function pointers, no
 * jansson or libactor symbol, so a plugin links nothing of the platform.
 * What a plugin needs from its host (its settings, logging, a signed AWS
 * request) comes through actor_plugin_host_t. Every call into a plugin may
 * come from any thread of the pool: a plugin's calls must be thread safe.
 * Shipped plugins: libactor/plugins/ (dns_route53.c, auth_header.c). */
#ifndef ACTOR_PLUGIN_H
#define ACTOR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define ACTOR_PLUGIN_ABI 1u
#define ACTOR_PLUGIN_SYMBOL "abaco_plugin"
/* A plugin defines its descriptor as
 *   ACTOR_PLUGIN_EXPORT const actor_plugin_desc_t abaco_plugin = {...}; */
#define ACTOR_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef enum { ACTOR_PLUGIN_DNS = 1, ACTOR_PLUGIN_AUTH = 2 } actor_plugin_kind_t;

/* What went wrong in a plugin call: a short code (AWS's, or the plugin's
 * own word) and a sentence. */
typedef struct {
  char code[96];
  char message[512];
} actor_plugin_err_t;

/* Log levels of host->log (those of actor/log.h). */
enum { ACTOR_PLUGIN_LOG_DEBUG = 10, ACTOR_PLUGIN_LOG_INFO = 20, ACTOR_PLUGIN_LOG_WARN = 30,
       ACTOR_PLUGIN_LOG_ERROR = 40 };

typedef struct actor_plugin_host_s actor_plugin_host_t;
struct actor_plugin_host_s {
  uint32_t abi;      /* ACTOR_PLUGIN_ABI */
  const char *file;  /* the plugin's path, for messages */
  /* [plugins] <key> (with its environment override plugins_<key>), or def
   * when unset. The string lives as long as the host. */
  const char *(*setting)(const actor_plugin_host_t *h, const char *key, const char *def);
  /* One line in the service's log, under the module "plugin". */
  void (*log)(const actor_plugin_host_t *h, int level, const char *msg);
  /* A signed AWS REST request (SigV4 by the service's AWS client, with
   * [cloud]'s credentials, endpoint and retries): method and path (with
   * its query) against service's endpoint ([cloud] endpoint when set, else
   * https://<service>.amazonaws.com), body an XML text or NULL. Returns 0
   * on a 2xx answer, *answer (malloc'd, NUL-terminated, free with
   * host->free) and *len; else -1 with err filled (AWS's code and
   * message). Services without an AWS client answer -1 "NoAwsClient". */
  int (*aws_request)(const actor_plugin_host_t *h, const char *service, const char *method,
                     const char *path, const char *body, char **answer, size_t *len,
                     actor_plugin_err_t *err);
  void (*free)(void *p);
  void *ctx; /* the host's own */
};

/* ---- kind dns ----
 * Called by the launcher and the updater (on the thread pool) when a
 * managed instance gets its address and when it is terminated. */
typedef struct {
  const char *id;       /* the platform's id */
  const char *tenant;
  const char *owner;
  const char *name;     /* the user's name for it (may be "") */
  const char *ec2_instance_id;
  const char *public_ip;  /* may be NULL */
  const char *private_ip; /* may be NULL */
} actor_dns_instance_t;

typedef struct {
  /* The instance's DNS name (written into out, NUL-terminated): it is
   * stored in the record as `display_name` and given to create_entry and
   * delete_entry. 0, or -1 with err. */
  int (*display_name)(void *state, const actor_dns_instance_t *inst, char *out, size_t len,
                      actor_plugin_err_t *err);
  /* Makes name resolve to ip (an upsert: calling it twice is fine). */
  int (*create_entry)(void *state, const char *name, const char *ip, actor_plugin_err_t *err);
  /* Removes that entry; one that does not exist is not an error. */
  int (*delete_entry)(void *state, const char *name, const char *ip, actor_plugin_err_t *err);
} actor_dns_ops_t;

/* ---- kind auth ----
 * Called by the api for every request when [web] access_control = plugin:
 * turns the headers a front proxy set into a user and groups. */
typedef struct {
  /* The value of a request header (any case), or NULL. */
  const char *(*header)(void *req, const char *name);
  void *req;
} actor_auth_request_t;

/* identify's answers */
enum { ACTOR_AUTH_OK = 0, ACTOR_AUTH_NONE = 1, ACTOR_AUTH_FAIL = -1 };

typedef struct {
  /* Fills user (cleaned up: the name the platform knows the caller by)
   * and groups (comma separated, may be ""). ACTOR_AUTH_OK;
   * ACTOR_AUTH_NONE when the request carries no identity (err says what
   * is missing: a 401); ACTOR_AUTH_FAIL when it carries a bad one (err
   * says why: a 401 too). */
  int (*identify)(void *state, const actor_auth_request_t *req, char *user, size_t user_len,
                  char *groups, size_t groups_len, actor_plugin_err_t *err);
} actor_auth_ops_t;

/* ---- the descriptor ---- */
typedef struct {
  uint32_t abi;  /* ACTOR_PLUGIN_ABI when built */
  uint32_t kind; /* actor_plugin_kind_t */
  const char *name;
  /* May be NULL. Reads settings through host (kept for the plugin's life);
   * *state is given back to every call. 0, or -1 with err: the service
   * stops. */
  int (*init)(const actor_plugin_host_t *host, void **state, actor_plugin_err_t *err);
  void (*fini)(void *state); /* may be NULL */
  const void *ops;           /* actor_dns_ops_t or actor_auth_ops_t, by kind */
} actor_plugin_desc_t;

/* ---- the loader (libactor, plugin.c) ---- */
#ifndef ACTOR_PLUGIN_ONLY
#include "actor/aws.h"
#include "actor/config.h"

typedef struct actor_plugin_s actor_plugin_t;

/* "dns", "auth". */
const char *actor_plugin_kind_name(actor_plugin_kind_t kind);

/* Loads the plugin of `kind` named by [plugins] <kind> from [plugins] dir
 * (aws: the service's client for host->aws_request, may be NULL). *out is
 * NULL (and 0 returned) when the key is unset or empty. ACTOR_ECONFIG,
 * logged naming the file and the key, for anything wrong. */
ACTOR_MUST_CHECK int actor_plugin_load(const actor_config_t *cfg, actor_plugin_kind_t kind,
                                       aws_t *aws, actor_plugin_t **out);
/* The same from an explicit path (tests), key is what messages name. */
ACTOR_MUST_CHECK int actor_plugin_open(const actor_config_t *cfg, const char *path,
                                       const char *key, actor_plugin_kind_t kind, aws_t *aws,
                                       actor_plugin_t **out);
void actor_plugin_unload(actor_plugin_t *p);
const void *actor_plugin_ops(const actor_plugin_t *p);
void *actor_plugin_state(const actor_plugin_t *p);
const char *actor_plugin_file(const actor_plugin_t *p);
const char *actor_plugin_name(const actor_plugin_t *p);
#endif

#endif
