/* testutil: CUnit registration boilerplate and temp directories, shared by all unit tests. */
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int test_run_suite(const char *suite_name, const test_case_t *cases) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    if (!suite) return 2;
    for (const test_case_t *c = cases; c->name; c++)
        if (!CU_add_test(suite, c->name, c->fn)) return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}

const char *test_tmpdir(const char *tag) {
    static char path[512];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/odac-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}
