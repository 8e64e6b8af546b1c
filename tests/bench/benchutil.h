/* benchutil: what every benchmark shares: the machine's name for its JSON lines and random
 * inputs. */
#ifndef ODAC_BENCHUTIL_H
#define ODAC_BENCHUTIL_H
#include <stddef.h>
#include "rng.h"

/* n floats uniform in [-1, 1); exits with a message when memory runs out. Free with free(). */
float *bench_random_floats(rng_t *r, size_t n);
/* "host / cpu model", with characters JSON would need escaped replaced. */
void bench_machine_name(char *out, size_t cap);

#endif
