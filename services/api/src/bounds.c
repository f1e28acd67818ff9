/* The table of what a client may store (bounds.h). Abaco itself bounds
 * none of these fields; each limit is set well above what real actors
 * use, and below what would make the value useless or costly where it
 * ends up: in every container's environment (Linux refuses a single
 * environment string over 128 KiB), in Redis keys and URL paths, or in
 * records the api re-reads on every request. docs/limits.md explains
 * each one to users; keep the two in step. */
#include "bounds.h"

static const api_limit_def_t LIMITS[API_LIM_COUNT] = {
    /* Docker's own grammar and lengths (imageref.c). */
    [API_LIM_IMAGE] = {"image", API_IMAGE_REF_MAX, API_UNIT_CHARS},
    /* Shown in listings and passed as _abaco_actor_name. */
    [API_LIM_NAME] = {"name", 256, API_UNIT_CHARS},
    /* About a page of text. */
    [API_LIM_DESCRIPTION] = {"description", 4096, API_UNIT_CHARS},
    /* Hints are short tags ("sync", "mpi"). */
    [API_LIM_HINT] = {"hints", 128, API_UNIT_CHARS},
    [API_LIM_HINTS] = {"hints", 32, API_UNIT_ITEMS},
    /* An actor id (13 characters) or an alias (at most 128). */
    [API_LIM_LINK] = {"link", 128, API_UNIT_CHARS},
    /* The longest URL most clients and proxies pass on. */
    [API_LIM_WEBHOOK] = {"webhook", 2048, API_UNIT_CHARS},
    /* "YYYY-MM-DD HH + <n> <unit>" is about 30 characters. */
    [API_LIM_CRON_SCHEDULE] = {"cron_schedule", 64, API_UNIT_CHARS},
    /* "512m", "1.5g", or a number of bytes. */
    [API_LIM_MEM_LIMIT] = {"mem_limit", 32, API_UNIT_CHARS},
    /* Every variable goes into each container's environment. */
    [API_LIM_DEFAULT_ENV] = {"default_environment", 64 * 1024, API_UNIT_JSON},
    /* A list of a few {host_path, container_path, mode} objects. */
    [API_LIM_MOUNTS] = {"mounts", 16 * 1024, API_UNIT_JSON},
    /* Path segments and parts of Redis keys. */
    [API_LIM_ALIAS] = {"alias", API_NAME_MAX, API_UNIT_CHARS},
    [API_LIM_CONFIG_NAME] = {"name", API_NAME_MAX, API_UNIT_CHARS},
    /* All configs of an actor share one variable, _actor_configs. */
    [API_LIM_CONFIG_VALUE] = {"value", 64 * 1024, API_UNIT_JSON},
    /* 64 ids or aliases of up to 128 characters, with separators. */
    [API_LIM_CONFIG_ACTORS] = {"actors", 64 * (API_NAME_MAX + 2), API_UNIT_CHARS},
    [API_LIM_CONFIG_ACTOR_COUNT] = {"actors", 64, API_UNIT_ITEMS},
    [API_LIM_NONCE_DESCRIPTION] = {"description", 4096, API_UNIT_CHARS},
    /* A user name as identity provides it (255 bytes at most). */
    [API_LIM_PERM_USER] = {"user", 255, API_UNIT_CHARS},
};

const api_limit_def_t *api_limit(api_limit_t which) {
  return &LIMITS[which < API_LIM_COUNT ? which : 0];
}

size_t api_utf8_chars(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
    n += (*p & 0xC0) != 0x80;
  return n;
}
