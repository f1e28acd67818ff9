/* Private to the store: the JSON -> BSON append used by store_mongo.c. */
#ifndef ACTOR_STORE_INT_H
#define ACTOR_STORE_INT_H

#include <bson/bson.h>
#include <jansson.h>

/* Appends v under key; depth counts nesting (bounded). 0 or ACTOR_E*. */
int store__bson_append_json(bson_t *b, const char *key, const json_t *v, int depth);

#endif
