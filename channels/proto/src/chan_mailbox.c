/* Mailbox declare arguments (channels/proto/mailbox.h). */
#include <string.h>

#include "channels/proto/mailbox.h"

void chan_mailbox_opts(bool stateful, chan_queue_opts_t *out) {
  memset(out, 0, sizeof(*out));
  out->single_active = stateful;
}
