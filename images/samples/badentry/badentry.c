/* Sample actor "badentry": never runs. Its image's ENTRYPOINT points to a
 * missing file (see the Dockerfile), so starting a container of it fails
 * in the engine; this program only exists because every sample has one. */
#include <stdio.h>

int main(void) {
  puts("badentry: this should never run");
  return 0;
}
