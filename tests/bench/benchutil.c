/* benchutil: machine name and random inputs for the benchmarks. */
#include "benchutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

float *bench_random_floats(rng_t *r, size_t n) {
    float *x = malloc(n * sizeof(float));
    if (!x) {
        fprintf(stderr, "bench: out of memory for %zu floats\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * rng_uniform(r) - 1.0f;
    return x;
}

void bench_machine_name(char *out, size_t cap) {
    char host[128] = "unknown", cpu[256] = "unknown cpu";
    gethostname(host, sizeof host - 1);
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(cpu, sizeof cpu, "%s", colon + 1 + (colon[1] == ' '));
                    cpu[strcspn(cpu, "\n")] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    snprintf(out, cap, "%s / %s", host, cpu);
    for (char *c = out; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '_';
}
