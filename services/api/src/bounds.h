/* Bounds on what a client may store through the api: one table of
 * limits (bounds.c, documented in docs/limits.md), the Docker image
 * reference grammar (imageref.c) and the counting both need. Pure: no
 * I/O, no answers; the checks that answer 400 are in fields.c. Request
 * bodies as a whole are bounded by [web] max_body_size before any of
 * this runs (router.c). */
#ifndef API_BOUNDS_H
#define API_BOUNDS_H

#include <stddef.h>

/* Longest alias or config name (also sizes buffers, hence a macro). */
#define API_NAME_MAX 128

/* What each limit bounds. */
typedef enum {
  API_LIM_IMAGE,              /* image: the whole reference */
  API_LIM_NAME,               /* actor name */
  API_LIM_DESCRIPTION,        /* actor description */
  API_LIM_HINT,               /* one hint */
  API_LIM_HINTS,              /* number of hints */
  API_LIM_LINK,               /* link: an actor id or alias */
  API_LIM_WEBHOOK,            /* webhook URL */
  API_LIM_CRON_SCHEDULE,      /* cron_schedule */
  API_LIM_MEM_LIMIT,          /* mem_limit, as text */
  API_LIM_DEFAULT_ENV,        /* default_environment */
  API_LIM_MOUNTS,             /* mounts */
  API_LIM_ALIAS,              /* alias name */
  API_LIM_CONFIG_NAME,        /* config name */
  API_LIM_CONFIG_VALUE,       /* config value */
  API_LIM_CONFIG_ACTORS,      /* config actors: the text of the list */
  API_LIM_CONFIG_ACTOR_COUNT, /* config actors: how many */
  API_LIM_NONCE_DESCRIPTION,  /* nonce description */
  API_LIM_PERM_USER,          /* user of a permission */
  API_LIM_COUNT
} api_limit_t;

/* How a limit is measured. */
typedef enum {
  API_UNIT_CHARS, /* characters (UTF-8 code points) of a string */
  API_UNIT_JSON,  /* bytes of the value's compact JSON text */
  API_UNIT_ITEMS  /* entries of a list */
} api_unit_t;

typedef struct {
  const char *field; /* the body field, as error messages name it */
  size_t max;
  api_unit_t unit;
} api_limit_def_t;

/* The definition of a limit (a static entry of the table). */
const api_limit_def_t *api_limit(api_limit_t which);
/* Characters (code points) of UTF-8 text: the bytes that are not
 * continuation bytes. */
size_t api_utf8_chars(const char *s);

/* Docker image references (distribution's reference grammar):
 *   [host[:port]/]component[/component...][:tag][@sha256:<64 hex>]
 * host: DNS labels of letters, digits and inner '-', joined by '.';
 * component: runs of [a-z0-9] joined by '.', '_', '__' or one or more '-';
 * tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. The name (host and components)
 * has at most API_IMAGE_NAME_MAX characters. */
#define API_IMAGE_NAME_MAX 255
#define API_IMAGE_TAG_MAX 128
#define API_IMAGE_DIGEST_HEX 64
/* Name, ':' tag, "@sha256:" digest: the longest valid reference. */
#define API_IMAGE_REF_MAX (API_IMAGE_NAME_MAX + 1 + API_IMAGE_TAG_MAX + 8 + API_IMAGE_DIGEST_HEX)
/* 0 when ref is a valid reference; else -1 with the reason in why (a
 * sentence without the field name). */
int api_image_ref_check(const char *ref, char *why, size_t whylen);

#endif
