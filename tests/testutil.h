/* testutil: the one CUnit runner every tests/test_*.c uses, plus small helpers. */
#ifndef ODAC_TESTUTIL_H
#define ODAC_TESTUTIL_H
#include <CUnit/Basic.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} test_case_t;

/* Runs cases (terminated by {NULL, NULL}) as one suite; returns the process exit code
 * (0 when every assertion passed). */
int test_run_suite(const char *suite_name, const test_case_t *cases);

/* A fresh empty directory under $TMPDIR (or /tmp) for this test; the path is static storage. */
const char *test_tmpdir(const char *tag);

#endif
