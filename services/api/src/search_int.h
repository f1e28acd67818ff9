/* Shared by search.c (the query, the loaded searches, the route) and
 * search_mongo.c (the executions and logs searches): private to the
 * search route. */
#ifndef API_SEARCH_INT_H
#define API_SEARCH_INT_H

#include <stdbool.h>

#include "access.h"

#define SEARCH_LIMIT_DEFAULT 100
#define SEARCH_LIMIT_MAX 1000
#define SEARCH_CONDS_MAX 32
/* Most matches of an executions/logs search that are counted. */
#define SEARCH_SCAN_MAX 200000
#define PINNED_MAX 10000 /* search_pinned: most executions read one by one */
#define SEARCH_FIELD_MAX 128

typedef enum {
  OP_EQ,
  OP_NEQ,
  OP_GT,
  OP_GTE,
  OP_LT,
  OP_LTE,
  OP_IN,
  OP_NIN,
  OP_LIKE,
  OP_NLIKE,
  OP_BETWEEN,
  OP_COUNT
} op_t;

typedef struct {
  char field[SEARCH_FIELD_MAX];
  op_t op;
  json_t *value; /* scalar; array for in/nin; [a, b] for between */
  const char *raw;
} cond_t;

typedef struct {
  cond_t conds[SEARCH_CONDS_MAX];
  int n;
  const char *search, *exact;
  long long skip, limit;
} query_t;

/* The value at a dotted path of obj, or NULL. */
const json_t *search__get_path(const json_t *obj, const char *path);
/* Whether hay contains needle, ignoring case. */
bool search__contains_ci(const char *hay, const char *needle);
/* Whether a loaded object meets one condition. */
bool search__cond_match(const json_t *obj, const cond_t *c);
/* The db_ids (array) and, when recs_out is not NULL, the records (array)
 * of the actors in the caller's scope. 0 or an ACTOR_E* code. */
int search__scope_actors(api_req_t *r, json_t **ids_out, json_t **recs_out);
/* The _metadata object of an answer. New reference. */
json_t *search__metadata(long long total, const query_t *q, size_t returned);
/* Answers 200 with meta and items (both stolen). */
void search__answer(api_req_t *r, json_t *meta, json_t *items);
/* The executions (logs false) or logs search of q. */
void search__mongo(api_req_t *r, const query_t *q, bool logs);

#endif
