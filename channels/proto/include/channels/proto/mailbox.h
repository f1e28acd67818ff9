/* The arguments an actor's mailbox (actor_msg_<db_id>) is declared with.
 * A queue's arguments are fixed when it is created and the broker refuses a
 * declare with other ones, so every declarer -- the api when it registers,
 * updates or publishes, the worker when it consumes -- takes them from
 * here. A stateful actor's mailbox is single-active-consumer: the broker
 * hands its messages to one worker at a time (the api's mailbox.c has the
 * design note); a stateless actor's has no arguments. */
#ifndef CHANNELS_PROTO_MAILBOX_H
#define CHANNELS_PROTO_MAILBOX_H

#include <stdbool.h>

#include "channels/chan.h"

void chan_mailbox_opts(bool stateful, chan_queue_opts_t *out);

#endif
