/* flags: a config file is one JSON object and nothing after it; a string option takes a JSON
 * string or a list of integers ("hidden": [400, 300] is "400,300"), never a bare number or a
 * boolean; each refusal names the file and the option. */
#include "flags.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char hidden[FLAGS_STR_MAX], config[FLAGS_STR_MAX], token[FLAGS_STR_MAX];
static long long count;
static char err[512];

static const flag_t table[] = {
    {"hidden", FLAG_STRING, hidden, 0, -1, "sizes"},
    {"count", FLAG_INT, &count, 1, 100, "a count"},
    {"config", FLAG_STRING, config, 0, -1, "config file"},
    {"run-token", FLAG_STRING, token, 0, -1, "a secret"},
};
enum { N = sizeof table / sizeof *table };

/* Writes text as the config and parses it; returns flags_parse's result. */
static int parse_config(const char *text) {
    strcpy(hidden, "64,64");
    count = 5;
    config[0] = '\0';
    unsetenv("ODAC_CONFIG");
    unsetenv("ODAC_HIDDEN");
    char path[600];
    snprintf(path, sizeof path, "%s/c.json", test_tmpdir("flags-config"));
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    char *argv[] = {"prog", "--config", path, NULL};
    err[0] = '\0';
    return flags_parse(table, N, 3, argv, "usage: test", NULL, NULL, err, sizeof err);
}

static void test_trailing_text(void) {
    CU_ASSERT_EQUAL(parse_config("{\"count\": 7}\n  \n"), 0); /* whitespace after is fine */
    CU_ASSERT_EQUAL(count, 7);
    CU_ASSERT_NOT_EQUAL(parse_config("{\"count\": 7} garbage"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unexpected text after the JSON object"));
    CU_ASSERT_NOT_EQUAL(parse_config("{\"count\": 7}{\"count\": 8}"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "after the JSON object"));
}

static void test_string_option_types(void) {
    CU_ASSERT_NOT_EQUAL(parse_config("{\"hidden\": 64}"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'hidden' must be a string"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a number"));
    CU_ASSERT_NOT_EQUAL(parse_config("{\"hidden\": true}"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'hidden' must be a string"));
    CU_ASSERT_EQUAL(parse_config("{\"hidden\": [400, 300]}"), 0);
    CU_ASSERT_STRING_EQUAL(hidden, "400,300");
    CU_ASSERT_EQUAL(parse_config("{\"hidden\": \"256,256\"}"), 0);
    CU_ASSERT_STRING_EQUAL(hidden, "256,256");
    CU_ASSERT_NOT_EQUAL(parse_config("{\"hidden\": []}"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty list"));
    CU_ASSERT_NOT_EQUAL(parse_config("{\"hidden\": [400, 1.5]}"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "list of integers"));
    CU_ASSERT_NOT_EQUAL(parse_config("{\"hidden\": [400, \"x\"]}"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "list of integers"));
    CU_ASSERT_NOT_EQUAL(parse_config("{\"count\": [1]}"), 0); /* lists only for strings */
}

static void test_secret_not_written(void) {
    strcpy(token, "s3cret");
    char path[600];
    snprintf(path, sizeof path, "%s/v.json", test_tmpdir("flags-secret"));
    CU_ASSERT_EQUAL_FATAL(flags_write_json(table, N, path, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    CU_ASSERT_PTR_NULL(strstr(text, "s3cret"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "hidden"));
}

int main(void) {
    static const test_case_t cases[] = {
        {"text after the JSON object is refused", test_trailing_text},
        {"string options take strings or integer lists", test_string_option_types},
        {"the run token is not written to variant.json", test_secret_not_written},
        {NULL, NULL}};
    return test_run_suite("flags_config", cases);
}
