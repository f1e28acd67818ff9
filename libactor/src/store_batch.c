/* Group commit of MongoDB inserts (see store.h, store_batch_*).
 *
 * Design note: waiters queue a slot {doc, done, rc} under one mutex. A
 * waiter that finds no leader becomes the leader, takes up to max_batch
 * queued slots, drops the lock, writes them with one insert_many, takes
 * the lock again, fills in each slot's outcome and wakes everyone. Slots
 * queued meanwhile form the next batch, written by the next waiter that
 * wakes and finds no leader. Each waiter sleeps on its slot's own
 * condition variable: the leader wakes the owners of the slots it wrote
 * and the owner of the first slot queued meanwhile (the next leader),
 * nobody else, so no waiter wakes only to sleep again. Cost: one mutex
 * round per call and one wake per waiter; the batch adapts to the load
 * by itself. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/store.h"

typedef struct batch_slot_s {
  const json_t *doc;
  int rc;
  bool done;
  pthread_cond_t cv; /* its owner waits here (for its outcome or its turn to lead) */
  struct batch_slot_s *next;
} batch_slot_t;

struct store_batch_s {
  store_mongo_t *mongo;
  char *coll;
  size_t max_batch;
  pthread_mutex_t lock;
  batch_slot_t *head, *tail;
  bool leader;
  unsigned long long batches, docs; /* written so far */
  int (*before)(const json_t *docs, void *ud);
  void *before_ud;
  void (*after)(const json_t *failed, void *ud);
  void *after_ud;
};

void store_batch_set_after(store_batch_t *b, void (*fn)(const json_t *failed, void *ud),
                           void *ud) {
  b->after = fn;
  b->after_ud = ud;
}

void store_batch_set_before(store_batch_t *b, int (*fn)(const json_t *docs, void *ud), void *ud) {
  b->before = fn;
  b->before_ud = ud;
}

int store_batch_new(store_mongo_t *m, const char *coll, size_t max_batch, store_batch_t **out) {
  store_batch_t *b = calloc(1, sizeof(*b));
  if (b == NULL)
    return ACTOR_ENOMEM;
  b->mongo = m;
  b->coll = strdup(coll);
  b->max_batch = max_batch ? max_batch : 256;
  if (b->coll == NULL || pthread_mutex_init(&b->lock, NULL) != 0) {
    free(b->coll);
    free(b);
    return ACTOR_ENOMEM;
  }
  *out = b;
  return 0;
}

void store_batch_free(store_batch_t *b) {
  if (b == NULL)
    return;
  pthread_mutex_destroy(&b->lock);
  free(b->coll);
  free(b);
}

/* Called with the lock held by the leader; returns with it held. */
static void write_batch(store_batch_t *b) {
  batch_slot_t *slots[1024];
  size_t n = 0, max = b->max_batch < 1024 ? b->max_batch : 1024;
  while (b->head && n < max) {
    slots[n++] = b->head;
    b->head = b->head->next;
  }
  if (b->head == NULL)
    b->tail = NULL;
  pthread_mutex_unlock(&b->lock);

  int results[1024];
  json_t *docs = json_array();
  int rc = docs ? 0 : ACTOR_ENOMEM;
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (json_array_append(docs, (json_t *)slots[i]->doc) != 0)
      rc = ACTOR_ENOMEM;
  if (rc == 0 && b->before)
    rc = b->before(docs, b->before_ud);
  if (rc == 0)
    rc = store_mongo_insert_many(b->mongo, b->coll, docs, results);
  json_decref(docs);
  if (b->after) { /* the documents not inserted; one whose _id exists is */
    json_t *failed = json_array();
    for (size_t i = 0; failed && i < n; i++) {
      int r = rc != 0 ? rc : results[i];
      if (r != 0 && r != ACTOR_EEXIST)
        json_array_append(failed, (json_t *)slots[i]->doc);
    }
    if (failed && json_array_size(failed) > 0)
      b->after(failed, b->after_ud);
    json_decref(failed);
  }

  pthread_mutex_lock(&b->lock);
  b->batches++;
  b->docs += n;
  for (size_t i = 0; i < n; i++) {
    slots[i]->rc = rc != 0 ? rc : results[i];
    slots[i]->done = true;
    pthread_cond_signal(&slots[i]->cv);
  }
}

int store_batch_insert(store_batch_t *b, const json_t *doc) {
  batch_slot_t slot = {.doc = doc};
  if (pthread_cond_init(&slot.cv, NULL) != 0)
    return ACTOR_ENOMEM;
  pthread_mutex_lock(&b->lock);
  if (b->tail)
    b->tail->next = &slot;
  else
    b->head = &slot;
  b->tail = &slot;
  while (!slot.done) {
    if (!b->leader) {
      b->leader = true;
      write_batch(b);
      b->leader = false;
      if (b->head) /* the first slot queued meanwhile leads the next batch */
        pthread_cond_signal(&b->head->cv);
    } else {
      pthread_cond_wait(&slot.cv, &b->lock);
    }
  }
  pthread_mutex_unlock(&b->lock);
  pthread_cond_destroy(&slot.cv);
  return slot.rc;
}

void store_batch_stats(store_batch_t *b, unsigned long long *batches, unsigned long long *docs) {
  pthread_mutex_lock(&b->lock);
  *batches = b->batches;
  *docs = b->docs;
  pthread_mutex_unlock(&b->lock);
}
