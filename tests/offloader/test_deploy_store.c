/* test_deploy_store.c: the bundle store on its own: verified atomic uploads, refusals that leave
 * nothing, listing without temporaries, removal, and names that could escape the folder. */
#include "offloader/deploy_store.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "testutil.h"

int main(void)
{
    char dir[600], store[700];
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(store, sizeof store, "%s/a/b/store", dir);
    CHECK_OK(sl_deploy_store_init(store), sl_errmsg());
    CHECK(sl_is_dir(store));

    const char content[] = "pretend this is an HDF5 edge bundle";
    size_t n = sizeof content - 1;
    uint8_t digest[32];
    sl_sha256(content, n, digest);
    char hex[65];
    sl_sha256_hex(digest, hex);
    CHECK_EQ(strlen(hex), 64);

    /* Good upload in pieces: invisible until committed, then listed with its size. */
    sl_deploy_upload *up;
    CHECK_OK(sl_deploy_upload_begin(store, n, digest, 1000, &up), sl_errmsg());
    CHECK_OK(sl_deploy_upload_write(up, content, 10), sl_errmsg());
    CHECK_OK(sl_deploy_upload_write(up, content + 10, n - 10), sl_errmsg());
    CHECK_EQ(sl_deploy_upload_received(up), n);
    sl_deploy_entry *v;
    size_t cnt;
    CHECK_OK(sl_deploy_store_list(store, &v, &cnt), sl_errmsg());
    CHECK_EQ(cnt, 0); /* the temporary is hidden */
    free(v);
    const char *tmp;
    CHECK_OK(sl_deploy_upload_finish(up, &tmp), sl_errmsg());
    CHECK(sl_is_file(tmp));
    CHECK_OK(sl_deploy_upload_commit(up, "b.h5"), sl_errmsg());
    CHECK_EQ(tu_count_entries(store), 1);
    char path[800];
    snprintf(path, sizeof path, "%s/b.h5", store);
    uint8_t again[32];
    CHECK_OK(sl_sha256_file(path, again), sl_errmsg());
    CHECK(memcmp(again, digest, 32) == 0);

    /* Refusals: wrong digest, short, long, over the size limit, bad names; nothing remains. */
    uint8_t wrong[32];
    memcpy(wrong, digest, 32);
    wrong[0] ^= 1;
    CHECK_OK(sl_deploy_upload_begin(store, n, wrong, 1000, &up), sl_errmsg());
    sl_deploy_upload_write(up, content, n);
    CHECK_EQ(sl_deploy_upload_finish(up, &tmp), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "does not match the announced");
    sl_deploy_upload_abort(up);

    CHECK_OK(sl_deploy_upload_begin(store, n, digest, 1000, &up), sl_errmsg());
    sl_deploy_upload_write(up, content, n - 1);
    CHECK_EQ(sl_deploy_upload_finish(up, &tmp), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "truncated upload");
    sl_deploy_upload_abort(up);

    CHECK_OK(sl_deploy_upload_begin(store, n - 1, digest, 1000, &up), sl_errmsg());
    CHECK_EQ(sl_deploy_upload_write(up, content, n), SL_EFORMAT);
    sl_deploy_upload_abort(up);

    CHECK_EQ(sl_deploy_upload_begin(store, 1001, digest, 1000, &up), SL_EARG);
    CHECK(up == NULL);

    CHECK_OK(sl_deploy_upload_begin(store, n, digest, 1000, &up), sl_errmsg());
    sl_deploy_upload_write(up, content, n);
    CHECK_OK(sl_deploy_upload_finish(up, &tmp), sl_errmsg());
    CHECK_EQ(sl_deploy_upload_commit(up, "../escape.h5"), SL_EARG);
    CHECK_EQ(tu_count_entries(store), 1);
    char outside[800];
    snprintf(outside, sizeof outside, "%s/a/b/escape.h5", dir);
    CHECK(!sl_is_file(outside));
    CHECK_EQ(sl_deploy_store_remove(store, "../store/b.h5"), SL_EARG);
    CHECK_EQ(sl_deploy_store_remove(store, ".hidden"), SL_EARG);

    /* A crash leaves a temporary: init removes it, real files stay. */
    CHECK_OK(sl_deploy_upload_begin(store, n, digest, 1000, &up), sl_errmsg());
    sl_deploy_upload_write(up, content, 5);
    CHECK_EQ(tu_count_entries(store), 2);
    CHECK_OK(sl_deploy_store_init(store), sl_errmsg());
    CHECK_EQ(tu_count_entries(store), 1);
    sl_deploy_upload_abort(up); /* its file is already gone: still fine */

    /* List is sorted; remove works once. */
    snprintf(path, sizeof path, "%s/a.h5", store);
    sl_write_file_atomic(path, "xy", 2);
    CHECK_OK(sl_deploy_store_list(store, &v, &cnt), sl_errmsg());
    CHECK_EQ(cnt, 2);
    CHECK_STR(v[0].name, "a.h5");
    CHECK_EQ(v[0].bytes, 2);
    CHECK_STR(v[1].name, "b.h5");
    CHECK_EQ(v[1].bytes, n);
    free(v);
    CHECK_OK(sl_deploy_store_remove(store, "a.h5"), sl_errmsg());
    CHECK_EQ(sl_deploy_store_remove(store, "a.h5"), SL_ENOTFOUND);
    CHECK_EQ(tu_count_entries(store), 1);

    snprintf(path, sizeof path, "%s/nope", dir);
    CHECK_EQ(sl_deploy_store_list(path, &v, &cnt), SL_EIO);
    CHECK_EQ(sl_sha256_file(path, again), SL_EIO);
    tu_rmtree(dir);
    return TU_DONE();
}
