/* Scratch folders for unit tests. */
#pragma once

/* A folder under $BM_TEST_TMP (or /tmp) named PREFIX-XXXXXX, made here;
 * th_rmtree removes it and what it holds. */
void th_tmpdir(char *dir_out /* PATH_MAX */, const char *prefix);
void th_rmtree(const char *dir);
