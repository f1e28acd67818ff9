/* The environment of an actor container (API.md §4), built without I/O:
 * the actor's default_environment, then the message's extra query
 * parameters, then MSG and the _abaco_* variables. A JSON message is
 * rendered into MSG the way Python's str() prints it. */
#ifndef ACTOR_EXECENV_H
#define ACTOR_EXECENV_H

#include "actor/errors.h"

#include <jansson.h>

typedef struct {
  const json_t *actor;   /* the actor record */
  const json_t *meta;    /* the mailbox message's metadata (see DESIGN.md) */
  const json_t *message; /* the message value; NULL for binary messages */
  const char *worker_id;
  const char *access_token; /* NULL when the actor has none */
  const char *configs;      /* _actor_configs value, NULL for none */
} actor_execenv_in_t;

/* *out: a new JSON array of "KEY=value" strings, ready for the engine. */
ACTOR_MUST_CHECK int actor_execenv_build(const actor_execenv_in_t *in, json_t **out);

#endif
