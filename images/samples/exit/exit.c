/* Sample actor "exit": exits with the code given in $MSG (default 1), for
 * tests of exit_code reporting and failed executions. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char *msg = getenv("MSG");
  long code = 1;
  if (msg && *msg) {
    char *end;
    code = strtol(msg, &end, 10);
    if (*end != '\0' || code < 0 || code > 255) {
      fprintf(stderr, "exit: bad MSG '%s', want 0..255\n", msg);
      code = 1;
    }
  }
  printf("exit: code %ld\n", code);
  fflush(stdout);
  return (int)code;
}
