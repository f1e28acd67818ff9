/* Growing memory: actor_grow for arrays and byte buffers that double, and
 * actor_buf_t, the text buffer renderers append to. */
#include <stdlib.h>
#include <string.h>

#include "actor/json.h"

void *actor_grow(void *p, size_t *cap, size_t need, size_t size, size_t first) {
  if (need <= *cap)
    return p;
  size_t n = *cap ? *cap : first;
  while (n < need)
    n *= 2;
  void *grown = realloc(p, n * size);
  if (grown == NULL)
    return NULL;
  *cap = n;
  return grown;
}

void actor_buf_add(actor_buf_t *b, const char *s, size_t n) {
  if (b->failed)
    return;
  char *p = actor_grow(b->p, &b->cap, b->len + n + 1, 1, 64);
  if (p == NULL) {
    b->failed = true;
    return;
  }
  b->p = p;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
