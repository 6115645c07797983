/* test_cli.c: option-value parsing, atomic writes and error messages of common/. */
#include "common/cli.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "common/timeutil.h"
#include "testutil.h"

static void test_parsers(void)
{
    long l;
    double d;
    int64_t dims[4];
    int n;
    CHECK_OK(sl_parse_long("--epochs", "12", 1, 100, &l), sl_errmsg());
    CHECK_EQ(l, 12);
    CHECK(sl_parse_long("--epochs", "12x", 1, 100, &l) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "--epochs");
    CHECK(sl_parse_long("--epochs", "0", 1, 100, &l) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "out of range");
    CHECK_OK(sl_parse_double("--lr", "0.01", 0, 10, &d), sl_errmsg());
    CHECK_NEAR(d, 0.01, 1e-12);
    CHECK(sl_parse_double("--lr", "nan", 0, 10, &d) == SL_EARG);
    CHECK_OK(sl_parse_shape("--input", "3x224x224", dims, 4, &n), sl_errmsg());
    CHECK_EQ(n, 3);
    CHECK_EQ(dims[0], 3);
    CHECK_EQ(dims[2], 224);
    CHECK(sl_parse_shape("--input", "3x", dims, 4, &n) == SL_EARG);
    CHECK(sl_parse_shape("--input", "3x0x4", dims, 4, &n) == SL_EARG);
    CHECK(sl_parse_shape("--input", "1x2x3x4x5", dims, 4, &n) == SL_EARG);
    CHECK_OK(sl_parse_bandwidth("--bandwidth", "10mbit", &d), sl_errmsg());
    CHECK_NEAR(d, 10e6, 1e-6);
    CHECK_OK(sl_parse_bandwidth("--bandwidth", "500kbit", &d), sl_errmsg());
    CHECK_NEAR(d, 500e3, 1e-6);
    CHECK(sl_parse_bandwidth("--bandwidth", "10furlongs", &d) == SL_EARG);
    CHECK_OK(sl_parse_duration("--rtt", "20ms", &d), sl_errmsg());
    CHECK_NEAR(d, 0.020, 1e-12);
    CHECK_OK(sl_parse_duration("--rtt", "1.5", &d), sl_errmsg());
    CHECK_NEAR(d, 1.5, 1e-12);
    CHECK(sl_parse_duration("--rtt", "-3ms", &d) == SL_EARG);
    CHECK_OK(sl_parse_bytes("--upload", "1.5MB", &d), sl_errmsg());
    CHECK_NEAR(d, 1.5e6, 1e-6);
}

static void test_lists(void)
{
    char *items[3], *buf;
    int n;
    CHECK_OK(sl_parse_list("--labels", "crack,ok,pore", &buf, items, 3, &n), sl_errmsg());
    CHECK_EQ(n, 3);
    CHECK_STR(items[0], "crack");
    CHECK_STR(items[2], "pore");
    free(buf);
    CHECK_OK(sl_parse_list("--labels", "one", &buf, items, 3, &n), sl_errmsg());
    CHECK_EQ(n, 1);
    CHECK_STR(items[0], "one");
    free(buf);
    CHECK(sl_parse_list("--labels", "a,,b", &buf, items, 3, &n) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "empty item (item 2)");
    CHECK(buf == NULL);
    CHECK(sl_parse_list("--labels", "a,b,", &buf, items, 3, &n) == SL_EARG);
    CHECK(sl_parse_list("--labels", "", &buf, items, 3, &n) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "--labels: empty list");
    CHECK(sl_parse_list("--labels", "a,b,c,d", &buf, items, 3, &n) == SL_EARG);
    CHECK_CONTAINS(sl_errmsg(), "more than 3 items");
}

static void test_files(void)
{
    const char *dir = tu_tmpdir();
    char path[1024], sub[1024];
    snprintf(path, sizeof path, "%s/a.txt", dir);
    CHECK_OK(sl_write_file_atomic(path, "hello", 5), sl_errmsg());
    char *buf;
    size_t len;
    CHECK_OK(sl_read_file(path, &buf, &len), sl_errmsg());
    CHECK_EQ(len, 5);
    CHECK_STR(buf, "hello");
    free(buf);
    snprintf(sub, sizeof sub, "%s/x/y/z", dir);
    CHECK_OK(sl_mkdir_p(sub), sl_errmsg());
    CHECK(sl_is_dir(sub));
    snprintf(path, sizeof path, "%s/missing/a.txt", dir);
    CHECK(sl_write_file_atomic(path, "x", 1) == SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "missing/a.txt");
    CHECK(sl_read_file(path, &buf, &len) == SL_EIO);
    CHECK(buf == NULL);
    tu_rmtree(dir);
}

static void test_errors_and_stats(void)
{
    sl_err(SL_EFORMAT, "node %s: bad", "conv1");
    sl_err_ctx(SL_EFORMAT, "reading %s: ", "m.h5");
    CHECK_STR(sl_errmsg(), "reading m.h5: node conv1: bad");
    double v[] = {5, 1, 3, 2, 4};
    CHECK_NEAR(sl_median(v, 5), 3, 1e-12);
    CHECK_NEAR(sl_percentile(v, 5, 100), 5, 1e-12);
    CHECK_NEAR(sl_percentile(v, 5, 25), 2, 1e-12);
}

int main(void)
{
    test_parsers();
    test_lists();
    test_files();
    test_errors_and_stats();
    return TU_DONE();
}
