/* abaco.conf: an INI file (parsed by inih) whose every key may be
 * overridden by an environment variable `<section>_<option>` (exact case
 * first, then upper case, e.g. `web_port` or `WEB_PORT`). Typed getters
 * turn a bad value into ACTOR_ECONFIG and log an error naming
 * `[section] key` and the value, so a service can refuse to start. */
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
/* The typed getters set *out to `def` when the key is unset (return 0) or
 * bad (return ACTOR_ECONFIG, logged). Booleans: true/false, yes/no, on/off,
 * 1/0 in any case. Surrounding blanks are ignored.
 * Enum: value must be one of the NULL-terminated `choices`
 * (case-insensitive); *out then points at the matching choices[] entry. */
ACTOR_MUST_CHECK int actor_config_get_enum(const actor_config_t *cfg, const char *section,
                                           const char *key, const char *def,
                                           const char *const *choices, const char **out);

/* Calls fn for each key of a section in file order (for [logs]
 * level.<module>, [web] <tenant>_apim_public_key), with environment
 * overrides applied, then for each variable `<section>_<key>` (section in
 * exact case) whose key is not in the file, then for each `<SECTION>_<KEY>`
 * (all upper case) whose key was in neither. key and value are valid
 * during the call only. */
typedef void (*actor_config_each_cb)(const char *key, const char *value, void *ud);
void actor_config_each(const actor_config_t *cfg, const char *section,
                       actor_config_each_cb fn, void *ud);

#endif
