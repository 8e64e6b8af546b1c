/* fuzz_config: libFuzzer harness for the JSON config file parser (common/flags.c, as the
 * learner's --config uses it): any bytes as the config file, parsed over a table with an option
 * of every type and range the learner's table has. A refusal must say why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char env[FLAGS_STR_MAX] = "box2d", variant[FLAGS_STR_MAX] = "odac", config[FLAGS_STR_MAX] = "";
    char hidden[FLAGS_STR_MAX] = "256,256";
    long long seed = 1, batch_size = 256, checkpoint_every = 20000;
    double gamma = 0.99, lr_policy = 3e-4, target_distance = -1;
    int resume = 0, normalize = 0;
    const flag_t table[] = {
        {"env", FLAG_STRING, env, 0, -1, "environment"},
        {"variant", FLAG_STRING, variant, 0, -1, "variant"},
        {"config", FLAG_STRING, config, 0, -1, "JSON config"},
        {"hidden", FLAG_STRING, hidden, 0, -1, "hidden sizes"},
        {"seed", FLAG_INT, &seed, 0, 1e12, "seed"},
        {"batch-size", FLAG_INT, &batch_size, 1, 65536, "batch size"},
        {"checkpoint-every", FLAG_INT, &checkpoint_every, 1, 1e12, "updates between checkpoints"},
        {"gamma", FLAG_DOUBLE, &gamma, 0, 1, "discount"},
        {"lr-policy", FLAG_DOUBLE, &lr_policy, 0, 1, "learning rate"},
        {"target-distance", FLAG_DOUBLE, &target_distance, -1, 1e9, "stop distance"},
        {"resume", FLAG_BOOL, &resume, 0, -1, "resume"},
        {"normalize", FLAG_BOOL, &normalize, 0, -1, "normalise inputs"},
    };
    char path[512], err[1024] = "";
    snprintf(path, sizeof path, "%s/config.json", fuzz_dir());
    fuzz_write(path, data, len);
    char *argv[] = {"fuzz", "--config", path, NULL};
    int rc = flags_parse(table, (int)(sizeof table / sizeof *table), 3, argv, "fuzz", NULL, NULL,
                         err, sizeof err);
    if (rc != 0 && (rc != -1 || !err[0])) abort();
    if (rc == 0) {
        if (!(gamma >= 0 && gamma <= 1) || batch_size < 1 || batch_size > 65536) abort();
        if (strnlen(env, sizeof env) >= sizeof env) abort();
        char out[600];
        snprintf(out, sizeof out, "%s/variant.json", fuzz_dir());
        if (flags_write_json(table, (int)(sizeof table / sizeof *table), out, err, sizeof err))
            abort();
    }
    return 0;
}
