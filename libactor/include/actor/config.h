/* abaco.conf: an INI file (parsed by inih) whose every key may be
 * overridden by an environment variable `<section>_<option>` (exact case
 * first, then upper case, e.g. `web_port` or `WEB_PORT`). Typed getters
 * turn a bad value into ACTOR_ECONFIG and log an error naming
 * `[section] key` and the value, so a service can refuse to start. */
#ifndef ACTOR_CONFIG_H
#define ACTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct actor_config_s actor_config_t;

/* Loads `path` (NULL: $ABACO_CONF, else ./abaco.conf). A missing file is an
 * error; a syntax error reports its line. *out is owned by the caller. */
int actor_config_load(const char *path, actor_config_t **out);
/* Builds a config from INI text in memory (tests, fuzzing). */
int actor_config_parse(const char *text, actor_config_t **out);
void actor_config_free(actor_config_t *cfg);

/* Borrowed string valid while cfg lives; `def` when unset. */
const char *actor_config_get(const actor_config_t *cfg, const char *section,
                             const char *key, const char *def);
int actor_config_get_int(const actor_config_t *cfg, const char *section,
                         const char *key, long def, long *out);
int actor_config_get_bool(const actor_config_t *cfg, const char *section,
                          const char *key, bool def, bool *out);
int actor_config_get_double(const actor_config_t *cfg, const char *section,
                            const char *key, double def, double *out);
/* Value must be one of the NULL-terminated `choices` (case-insensitive). */
int actor_config_get_enum(const actor_config_t *cfg, const char *section,
                          const char *key, const char *def,
                          const char *const *choices, const char **out);

/* Calls fn for each key of a section (for [logs] level.<module>). */
typedef void (*actor_config_each_cb)(const char *key, const char *value, void *ud);
void actor_config_each(const actor_config_t *cfg, const char *section,
                       actor_config_each_cb fn, void *ud);

#endif
