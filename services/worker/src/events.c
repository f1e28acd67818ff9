/* The worker's platform events (channels/proto/event.h): ACTOR_READY when it
 * brings a new actor up, ACTOR_ERROR when the failure rule puts the actor
 * in ERROR, EXECUTION_COMPLETE once an execution is stored COMPLETE. Each
 * is published after its effect is stored, on the blocking channel client,
 * with a short confirm timeout (one retry): a broker that cannot take it
 * costs the message in hand a few seconds at most, and the event is then
 * only logged as lost (the stored state is the truth; events are hints). */
#include "actor/errors.h"
#include "actor/log.h"
#include "channels/proto/event.h"
#include "worker.h"

/* Per try; with the one retry the ack waits at most twice this. */
#define WORKER_EVENT_TIMEOUT_MS 2000

void worker_event(worker_t *w, const chan_event_t *e) {
  int rc = chan_event_publish(w->results, e, WORKER_EVENT_TIMEOUT_MS);
  if (rc != 0)
    LOG_WARN("worker", "actor %s%s%s: could not publish event %s: %s", w->db_id,
             e->execution_id ? " execution " : "", e->execution_id ? e->execution_id : "", e->type,
             actor_strerror(rc));
  else
    LOG_DEBUG("worker", "actor %s: event %s published", w->db_id, e->type);
}
