/* abaco.conf: an INI file (parsed by inih) whose every key may be
 * overridden by an environment variable `<section>_<option>` (exact case
 * first, then upper case, e.g. `web_port` or `WEB_PORT`). Both of Abaco's
 * syntaxes are read: `key = value` and `key: value`, comments on lines of
 * their own starting with `#` or `;`. Typed getters turn a bad value into
 * ACTOR_ECONFIG and log an error naming `[section] key` and the value, so
 * a service can refuse to start. Abaco's per-tenant variants
 * (`<tenant>_<key>`) and the table of the keys the platform knows are at
 * the end. docs/configuration.md lists every key. */
#ifndef ACTOR_CONFIG_H
#define ACTOR_CONFIG_H

#include "actor/errors.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct actor_config_s actor_config_t;

/* Loads `path` (NULL: $ABACO_CONF, else ./abaco.conf). A missing file is an
 * error; a syntax error reports its line. *out is owned by the caller. */
ACTOR_MUST_CHECK int actor_config_load(const char *path, actor_config_t **out);
/* Builds a config from INI text in memory (tests, fuzzing). */
ACTOR_MUST_CHECK int actor_config_parse(const char *text, actor_config_t **out);
void actor_config_free(actor_config_t *cfg);

/* Section and key names compare case-insensitively (configparser). cfg may
 * be NULL (environment and defaults only). Borrowed string valid while cfg
 * lives, or, when it comes from the environment, until that variable is
 * changed; `def` when unset. A variable set to "" counts as set. */
const char *actor_config_get(const actor_config_t *cfg, const char *section,
                             const char *key, const char *def);
ACTOR_MUST_CHECK int actor_config_get_int(const actor_config_t *cfg, const char *section,
                                          const char *key, long def, long *out);
ACTOR_MUST_CHECK int actor_config_get_bool(const actor_config_t *cfg, const char *section,
                                           const char *key, bool def, bool *out);
ACTOR_MUST_CHECK int actor_config_get_double(const actor_config_t *cfg, const char *section,
                                             const char *key, double def, double *out);
/* As actor_config_get_int / _double, and a value outside [min, max] is
 * ACTOR_ECONFIG too (logged naming the key and the range; *out = def). */
ACTOR_MUST_CHECK int actor_config_get_int_range(const actor_config_t *cfg, const char *section,
                                                const char *key, long def, long min, long max,
                                                long *out);
ACTOR_MUST_CHECK int actor_config_get_double_range(const actor_config_t *cfg,
                                                   const char *section, const char *key,
                                                   double def, double min, double max,
                                                   double *out);
/* The typed getters set *out to `def` when the key is unset (return 0) or
 * bad (return ACTOR_ECONFIG, logged). Booleans: true/false, yes/no, on/off,
 * 1/0 in any case. Surrounding blanks are ignored.
 * Enum: value must be one of the NULL-terminated `choices`
 * (case-insensitive); *out then points at the matching choices[] entry. */
ACTOR_MUST_CHECK int actor_config_get_enum(const actor_config_t *cfg, const char *section,
                                           const char *key, const char *def,
                                           const char *const *choices, const char **out);

/* Limits in Abaco's convention: an integer >= -1 where -1 ("unlimited")
 * and 0 both mean no limit, reported as 0 in *out. Below -1 is an error. */
int actor_config_get_limit(const actor_config_t *cfg, const char *section, const char *key,
                           long def, long *out);
/* A size in bytes, as Docker's --memory takes it ("512m", "2g", "1.5G",
 * "1024", "2gb"; k/m/g are powers of 1024); "-1", "0" and "" mean no
 * limit, reported as 0. */
int actor_config_get_size(const actor_config_t *cfg, const char *section, const char *key,
                          long long def, long long *out);
/* The size syntax above without the "no limit" forms: bytes, or -1 when s
 * is not a size (NULL, "", "-1m", "2x"). Also an actor's mem_limit. */
long long actor_parse_bytes(const char *s);

/* Calls fn for each key of a section in file order (for [logs]
 * level.<module>, [web] <tenant>_apim_public_key), with environment
 * overrides applied, then for each variable `<section>_<key>` (section in
 * exact case) whose key is not in the file, then for each `<SECTION>_<KEY>`
 * (all upper case) whose key was in neither. key and value are valid
 * during the call only. */
typedef void (*actor_config_each_cb)(const char *key, const char *value, void *ud);
void actor_config_each(const actor_config_t *cfg, const char *section,
                       actor_config_each_cb fn, void *ud);

/* Calls fn for each key of the file, in file order, with its section
 * (environment overrides not applied: this is what the file says). */
typedef void (*actor_config_entry_cb)(const char *section, const char *key, const char *value,
                                      void *ud);
void actor_config_each_entry(const actor_config_t *cfg, actor_config_entry_cb fn, void *ud);

/* ---- Abaco's per-tenant settings (config_tenant.c) ----
 * Some settings may be given per tenant as `<tenant>_<key>` in the same
 * section (e.g. [web] DEV-STAGING_default_token, [workers]
 * designsafe_actor_uid); the tenant compares in any case. These getters
 * return the tenant's value when it is set, else the key's own; a bad
 * value is logged naming the key that holds it. */
/* The key that holds the tenant's value: "<tenant>_<key>" written into buf
 * when it is set, else key itself. */
const char *actor_config_tenant_key(const actor_config_t *cfg, const char *section,
                                   const char *tenant, const char *key, char *buf, size_t len);
const char *actor_config_get_tenant(const actor_config_t *cfg, const char *section,
                                    const char *tenant, const char *key, const char *def);
int actor_config_get_tenant_int(const actor_config_t *cfg, const char *section,
                                const char *tenant, const char *key, long def, long *out);
int actor_config_get_tenant_bool(const actor_config_t *cfg, const char *section,
                                 const char *tenant, const char *key, bool def, bool *out);
/* Calls fn for each `<tenant>_<key>` of a section (file and environment,
 * as actor_config_each), with the tenant as written: for start-up checks,
 * so that a bad per-tenant value stops the service instead of failing
 * the requests of that tenant. `name` is the whole key. */
typedef void (*actor_config_tenant_cb)(const char *tenant, const char *name, const char *value,
                                       void *ud);
void actor_config_each_tenant(const actor_config_t *cfg, const char *section, const char *key,
                              actor_config_tenant_cb fn, void *ud);

/* ---- the keys the platform knows (config_keys.c) ---- */
typedef enum {
  ACTOR_KEY_USED,          /* some service of the platform reads it */
  ACTOR_KEY_TENANT,        /* <tenant>_<setting> of a setting read per tenant */
  ACTOR_KEY_ABACO,         /* one of Abaco's settings the platform does not use */
  ACTOR_KEY_ABACO_TENANT,  /* <tenant>_<setting> of a setting not read per tenant */
  ACTOR_KEY_UNKNOWN,       /* neither ours nor Abaco's */
} actor_config_key_kind_t;

/* What [section] key is to the platform. For the two tenant kinds,
 * *setting (may be NULL) points at the setting's name inside key and the
 * tenant is key[0 .. *setting - key - 1). */
actor_config_key_kind_t actor_config_key_kind(const char *section, const char *key,
                                              const char **setting);
/* Logs one warning per key of the file that no service of the platform
 * uses (Abaco's settings it does not implement, per-tenant variants it
 * does not honour, unknown keys), naming section and key; keys that only
 * other services read are not reported. Returns how many were reported. */
size_t actor_config_warn_unused(const actor_config_t *cfg);

#endif
