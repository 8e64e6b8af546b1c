/* flags: precedence (default < config file < environment < command line), clear errors for
 * unknown options, bad numbers, out-of-range values and bad config files, and one positional
 * argument among the options (flags_parse_one). */
#include "flags.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char name[FLAGS_STR_MAX];
static long long count;
static double rate;
static int fresh;
static char config[FLAGS_STR_MAX];
static char err[512];

static const flag_t table[] = {
    {"name", FLAG_STRING, name, 0, -1, "a name"},
    {"count", FLAG_INT, &count, 1, 100, "a count"},
    {"rate", FLAG_DOUBLE, &rate, 0, 1, "a rate"},
    {"fresh", FLAG_BOOL, &fresh, 0, -1, "a switch"},
    {"config", FLAG_STRING, config, 0, -1, "config file"},
};
enum { N = sizeof table / sizeof *table };

static void defaults(void) {
    strcpy(name, "default");
    count = 5;
    rate = 0.5;
    fresh = 0;
    config[0] = '\0';
    unsetenv("ODAC_NAME");
    unsetenv("ODAC_COUNT");
    unsetenv("ODAC_CONFIG");
}

static int parse(int argc, char **argv) {
    return flags_parse(table, N, argc, argv, "usage: test", NULL, NULL, err, sizeof err);
}

static void test_precedence(void) {
    defaults();
    const char *dir = test_tmpdir("flags");
    char path[600];
    snprintf(path, sizeof path, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"name\": \"from-config\", \"count\": 7, \"rate\": 0.25, \"fresh\": true}");
    fclose(f);
    setenv("ODAC_COUNT", "9", 1);
    char *argv[] = {"prog", "--config", path, "--rate=0.75", NULL};
    CU_ASSERT_EQUAL_FATAL(parse(4, argv), 0);
    CU_ASSERT_STRING_EQUAL(name, "from-config"); /* config over default */
    CU_ASSERT_EQUAL(count, 9);                   /* environment over config */
    CU_ASSERT_DOUBLE_EQUAL(rate, 0.75, 1e-12);   /* command line over everything */
    CU_ASSERT_EQUAL(fresh, 1);
    CU_ASSERT_TRUE(flags_was_set(table, N, "count"));
    char *argv2[] = {"prog", "--no-fresh", NULL};
    defaults();
    fresh = 1;
    CU_ASSERT_EQUAL(parse(2, argv2), 0);
    CU_ASSERT_EQUAL(fresh, 0);
    CU_ASSERT_FALSE(flags_was_set(table, N, "name"));
    snprintf(path, sizeof path, "%s/out.json", dir);
    CU_ASSERT_EQUAL(flags_write_json(table, N, path, err, sizeof err), 0);
    defaults();
    strcpy(name, "changed");
    char *argv3[] = {"prog", "--config", path, NULL};
    CU_ASSERT_EQUAL(parse(3, argv3), 0); /* what was written reads back */
    CU_ASSERT_STRING_EQUAL(name, "default");
}

static void expect_error(int argc, char **argv, const char *needle) {
    defaults();
    CU_ASSERT_EQUAL(parse(argc, argv), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void test_errors_name_the_option(void) {
    char *a1[] = {"prog", "--bogus", "1"};
    expect_error(3, a1, "--bogus");
    char *a2[] = {"prog", "--count", "12x"};
    expect_error(3, a2, "--count");
    char *a3[] = {"prog", "--count", "101"};
    expect_error(3, a3, "outside");
    char *a4[] = {"prog", "--rate", "nan"};
    expect_error(3, a4, "--rate");
    char *a5[] = {"prog", "--name"};
    expect_error(2, a5, "needs a value");
    char *a6[] = {"prog", "stray"};
    expect_error(2, a6, "stray");
    defaults();
    setenv("ODAC_COUNT", "zero", 1);
    char *a7[] = {"prog"};
    CU_ASSERT_EQUAL(parse(1, a7), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ODAC_COUNT"));
    unsetenv("ODAC_COUNT");

    const char *dir = test_tmpdir("flags-bad");
    char path[600];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"name\": \"x\", \"colour\": 3}");
    fclose(f);
    char *a8[] = {"prog", "--config", path};
    expect_error(3, a8, "colour");
    f = fopen(path, "w");
    fprintf(f, "{\"name\": ");
    fclose(f);
    expect_error(3, a8, "syntax");
    char *a9[] = {"prog", "--config", "/nonexistent/odac.json"};
    expect_error(3, a9, "/nonexistent/odac.json");
}

/* flags_parse_one: the one positional argument wherever it stands, NULL for none or several. */
static void test_one_positional(void) {
    const char *arg;
    int n_pos;
    defaults();
    char *a1[] = {"prog", "--count", "7", "runs/x", "--fresh"};
    CU_ASSERT_EQUAL(flags_parse_one(table, N, 5, a1, "usage: test", &arg, &n_pos, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(n_pos, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(arg);
    CU_ASSERT_STRING_EQUAL(arg, "runs/x");
    CU_ASSERT_EQUAL(count, 7);
    CU_ASSERT_EQUAL(fresh, 1);
    char *a2[] = {"prog", "--count", "7"};
    CU_ASSERT_EQUAL(flags_parse_one(table, N, 3, a2, "usage: test", &arg, &n_pos, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(n_pos, 0);
    CU_ASSERT_PTR_NULL(arg);
    char *a3[] = {"prog", "a", "b"};
    CU_ASSERT_EQUAL(flags_parse_one(table, N, 3, a3, "usage: test", &arg, &n_pos, err, sizeof err),
                    0);
    CU_ASSERT_EQUAL(n_pos, 2);
    CU_ASSERT_PTR_NULL(arg);
    char *a4[] = {"prog", "a", "--count", "1000"};
    CU_ASSERT_NOT_EQUAL(
        flags_parse_one(table, N, 4, a4, "usage: test", &arg, &n_pos, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--count"));
}

int main(void) {
    const test_case_t cases[] = {{"precedence", test_precedence},
                                 {"errors name the option", test_errors_name_the_option},
                                 {"one positional", test_one_positional},
                                 {NULL, NULL}};
    return test_run_suite("flags", cases);
}
