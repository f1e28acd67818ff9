/* updater: for now it only starts, logs and stops cleanly on SIGTERM; its
 * work arrives with a later issue (see docs/architecture.md "Processes"). */
#include "actor/log.h"
#include "actor/service.h"

int main(int argc, char **argv) {
  actor_service_t svc;
  if (actor_service_init(&svc, "updater", argc, argv) != 0)
    return 1;
  actor_service_run(&svc, NULL);
  actor_service_done(&svc);
  return 0;
}
