/* test_image_formats.c: JPEG and BMP decode to PIL's pixels (Debian's python3-pil is the
 * reference: make_images.py writes the files and what PIL decodes from them), from a file and
 * from memory; the format is told by the bytes, not the name; damaged and truncated JPEGs and
 * unsupported or short BMPs fail with SL_EFORMAT and a message naming the file.
 *
 * Tolerance: 0. PIL's JPEG plugin and TurboJPEG both drive Debian's libjpeg-turbo with the
 * accurate integer IDCT and smooth upsampling, so every pixel is expected to be equal; the test
 * prints the largest difference per file so a change of either side shows as a number. Skipped
 * (77) when the Python with PIL and numpy is missing. */
#include "testutil.h"

#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/image.h"

#include <stdint.h>

#define TOLERANCE 0

static const char *python(void)
{
    const char *p = getenv("SL_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static void check_file(const char *dir, const char *name, const char *fmt, int w, int h, int c)
{
    char path[1024], ref[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(ref, sizeof ref, "%s.ref", path);
    char *want = NULL, *bytes = NULL;
    size_t nwant = 0, nbytes = 0;
    CHECK_OK(sl_read_file(ref, &want, &nwant), sl_errmsg());
    CHECK_OK(sl_read_file(path, &bytes, &nbytes), sl_errmsg());
    if (!want || !bytes) return;
    const char *sniffed = sl_image_format(bytes, nbytes);
    TU_CHECK_MSG(sniffed && !strcmp(sniffed, fmt), "%s: sniffed %s, want %s", name,
                 sniffed ? sniffed : "nothing", fmt);

    sl_image a, b;
    int rc = sl_image_load(path, &a);
    CHECK_OK(rc, sl_errmsg());
    int rc2 = sl_image_decode(bytes, nbytes, name, &b);
    CHECK_OK(rc2, sl_errmsg());
    if (rc == SL_OK) {
        TU_CHECK_MSG(a.w == w && a.h == h && a.c == c, "%s: %dx%dx%d, PIL %dx%dx%d", name, a.w, a.h,
                     a.c, w, h, c);
        size_t n = (size_t)w * h * c;
        int maxd = 0;
        size_t ndiff = 0;
        for (size_t i = 0; a.w == w && a.h == h && a.c == c && nwant == n && i < n; i++) {
            int d = abs((int)a.data[i] - (int)(uint8_t)want[i]);
            maxd = d > maxd ? d : maxd;
            ndiff += d != 0;
        }
        printf("%-20s %-4s %4dx%-4d c%d  max |ours - PIL| = %d (%zu of %zu values differ)\n", name,
               fmt, w, h, c, maxd, ndiff, n);
        CHECK_EQ(nwant, n);
        TU_CHECK_MSG(maxd <= TOLERANCE, "%s: max difference %d to PIL", name, maxd);
        if (rc2 == SL_OK)
            TU_CHECK_MSG(b.w == a.w && b.h == a.h && b.c == a.c &&
                             !memcmp(a.data, b.data, (size_t)a.w * a.h * a.c),
                         "%s: decoding from memory differs from decoding the file", name);
    }
    sl_image_free(&a);
    sl_image_free(&b);
    free(want);
    free(bytes);
}

static void check_refused(const char *dir, const char *name, const char *why)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sl_image img;
    int rc = sl_image_load(path, &img);
    TU_CHECK_MSG(rc == SL_EFORMAT, "%s: status %d, want SL_EFORMAT", name, rc);
    CHECK_CONTAINS(sl_errmsg(), path);
    CHECK_CONTAINS(sl_errmsg(), why);
    CHECK(img.data == NULL && img.w == 0);
    printf("refused %-22s %s\n", name, sl_errmsg());
    char *bytes;
    size_t n;
    if (sl_read_file(path, &bytes, &n) == SL_OK) {
        CHECK_EQ(sl_image_decode(bytes, n, name, &img), SL_EFORMAT);
        CHECK_CONTAINS(sl_errmsg(), name);
        free(bytes);
    }
}

int main(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s -c 'import PIL, numpy' 2>/dev/null", python());
    if (system(cmd) != 0) {
        printf("SKIP: %s has no PIL or numpy (Debian's python3-pil, python3-numpy)\n", python());
        return 77;
    }
    const char *src = getenv("SL_SRC");
    const char *dir = tu_tmpdir();
    snprintf(cmd, sizeof cmd, "%s %s/tests/datasets/make_images.py %s", python(),
             src && *src ? src : ".", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "FAIL: %s\n", cmd);
        tu_rmtree(dir);
        return 1;
    }
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%s/manifest.txt", dir);
    FILE *m = fopen(mpath, "r");
    CHECK(m != NULL);
    char name[256], fmt[16];
    int w, h, c, files = 0, jpegs = 0, bmps = 0;
    while (m && fscanf(m, "%255s %15s %d %d %d", name, fmt, &w, &h, &c) == 5) {
        check_file(dir, name, fmt, w, h, c);
        files++;
        jpegs += !strcmp(fmt, "JPEG");
        bmps += !strcmp(fmt, "BMP");
    }
    if (m) fclose(m);
    CHECK(jpegs >= 10);
    CHECK(bmps >= 5);
    printf("%d files compared with PIL (%d JPEG, %d BMP), tolerance %d\n", files, jpegs, bmps,
           TOLERANCE);

    check_refused(dir, "bad-half.jpg", "JPEG");
    check_refused(dir, "bad-no-eoi.jpg", "JPEG");
    check_refused(dir, "bad-cut-in-scan.jpg", "JPEG");
    check_refused(dir, "bad-header-only.jpg", "JPEG");
    check_refused(dir, "bad-magic-only.jpg", "JPEG");
    check_refused(dir, "bad-huffman.jpg", "JPEG");
    check_refused(dir, "bad-short.bmp", "BMP");
    check_refused(dir, "bad-1bit.bmp", "BMP");

    /* Not an image at all, and a GIF: named, and the formats read are listed. */
    char path[1024];
    snprintf(path, sizeof path, "%s/notes.jpg", dir);
    CHECK_OK(sl_write_file_atomic(path, "hello", 5), sl_errmsg());
    check_refused(dir, "notes.jpg", "not an image file (PNG, JPEG or BMP)");

    /* Extensions searched in folders. */
    CHECK(sl_image_has_ext("a.jpg") && sl_image_has_ext("A.JPEG") && sl_image_has_ext("x.Bmp"));
    CHECK(sl_image_has_ext("x.png") && !sl_image_has_ext("x.gif") && !sl_image_has_ext(".jpg"));
    CHECK(!sl_image_has_ext("jpg"));

    tu_rmtree(dir);
    return TU_DONE();
}
