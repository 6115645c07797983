/* image.c: PNG through libpng's simplified API, JPEG and BMP through libjpeg-turbo (TurboJPEG),
 * PIL-style bilinear resampling, normalisation. */
#include "datasets/image.h"

#include "common/fsutil.h"
#include "common/status.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>
#include <unistd.h>

static atomic_uint_fast64_t max_pixels = SL_IMAGE_DEFAULT_MAX_PIXELS;

void sl_image_set_max_pixels(uint64_t n)
{
    atomic_store(&max_pixels, n ? n : SL_IMAGE_DEFAULT_MAX_PIXELS);
}

uint64_t sl_image_max_pixels(void)
{
    return atomic_load(&max_pixels);
}

static int finish_decode(png_image *im, const char *what, sl_image *out)
{
    int color = (im->format & PNG_FORMAT_FLAG_COLOR) != 0;
    int alpha = (im->format & PNG_FORMAT_FLAG_ALPHA) != 0;
    im->format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB)
                       : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    /* 16-bit files are sRGB-encoded like 8-bit ones in practice; without this flag libpng
     * treats them as linear and darkens every mid-tone when reducing to 8 bits. */
    im->flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    if (im->width == 0 || im->height == 0 || im->width > 65535 || im->height > 65535) {
        png_image_free(im);
        return sl_err(SL_EFORMAT, "%s: unsupported image size %ux%u", what, im->width, im->height);
    }
    /* The header alone says how much decoding would allocate: a small, highly compressed file
     * can declare gigabytes of pixels. */
    uint64_t cap = sl_image_max_pixels();
    if ((uint64_t)im->width * im->height > cap) {
        png_image_free(im);
        return sl_err(SL_EFORMAT,
                      "%s: %ux%u = %llu pixels is over the limit of %llu pixels; not decoded", what,
                      im->width, im->height, (unsigned long long)((uint64_t)im->width * im->height),
                      (unsigned long long)cap);
    }
    size_t size = PNG_IMAGE_SIZE(*im);
    uint8_t *buf = malloc(size);
    if (!buf) {
        png_image_free(im);
        return sl_err(SL_ENOMEM, "%s: out of memory for a %ux%u image", what, im->width,
                      im->height);
    }
    if (!png_image_finish_read(im, NULL, buf, 0, NULL)) {
        int rc = sl_err(SL_EFORMAT, "%s: corrupt or truncated PNG: %s", what, im->message);
        free(buf);
        png_image_free(im);
        return rc;
    }
    int in_c = PNG_IMAGE_PIXEL_CHANNELS(im->format), c = color ? 3 : 1;
    size_t n = (size_t)im->width * im->height;
    if (in_c != c) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < c; k++)
                buf[i * c + k] = buf[i * in_c + k];
    }
    out->w = (int)im->width;
    out->h = (int)im->height;
    out->c = c;
    out->data = buf;
    png_image_free(im);
    return SL_OK;
}

/* The largest side any decoder accepts (also the PNG and sl_image limit). */
enum { MAX_SIDE = 65535 };

/* Refuses a declared size before any pixel memory is allocated. */
static int check_size(const char *what, const char *kind, long long w, long long h)
{
    if (w <= 0 || h <= 0 || w > MAX_SIDE || h > MAX_SIDE)
        return sl_err(SL_EFORMAT, "%s: unsupported %s image size %lldx%lld", what, kind, w, h);
    uint64_t cap = sl_image_max_pixels(), n = (uint64_t)w * (uint64_t)h;
    if (n > cap)
        return sl_err(SL_EFORMAT,
                      "%s: %lldx%lld = %llu pixels is over the limit of %llu pixels; not decoded",
                      what, w, h, (unsigned long long)n, (unsigned long long)cap);
    return SL_OK;
}

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

const char *sl_image_format(const void *head, size_t len)
{
    const uint8_t *b = head;
    if (len >= 8 && !memcmp(b, png_magic, 8)) return "PNG";
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "JPEG";
    if (len >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    return NULL;
}

int sl_image_has_ext(const char *name)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t k = strlen(ext[i]);
        if (n > k && !strcasecmp(name + n - k, ext[i])) return 1;
    }
    return 0;
}

static int decode_png(const void *png, size_t len, const char *what, sl_image *out)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, png, len)) {
        int rc = sl_err(SL_EFORMAT, "%s: corrupt PNG: %s", what, im.message);
        png_image_free(&im);
        return rc;
    }
    return finish_decode(&im, what, out);
}

/* JPEG through TurboJPEG with its defaults (accurate integer IDCT, smooth chroma upsampling),
 * which are what PIL asks libjpeg for: the same library gives the same pixels. Any libjpeg
 * warning (truncated file, corrupt entropy data) stops the decode: a damaged file is refused,
 * not filled with grey. */
static int decode_jpeg(const void *buf, size_t len, const char *what, sl_image *out)
{
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return sl_err(SL_ENOMEM, "%s: cannot start the JPEG decoder: %s", what,
                      tjGetErrorStr2(NULL));
    int w = 0, h = 0, sub = 0, cs = 0, rc = SL_OK;
    if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &sub, &cs) != 0) {
        rc = sl_err(SL_EFORMAT, "%s: corrupt JPEG: %s", what, tjGetErrorStr2(tj));
    } else if (w <= 0 || h <= 0) {
        rc = sl_err(SL_EFORMAT, "%s: corrupt or truncated JPEG: no frame header", what);
    } else if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
        rc = sl_err(SL_EFORMAT, "%s: CMYK JPEG is not supported (convert it to RGB or gray)", what);
    } else {
        rc = check_size(what, "JPEG", w, h);
    }
    int c = cs == TJCS_GRAY ? 1 : 3;
    uint8_t *px = rc == SL_OK ? malloc((size_t)w * h * c) : NULL;
    if (rc == SL_OK && !px)
        rc = sl_err(SL_ENOMEM, "%s: out of memory for a %dx%d image", what, w, h);
    if (rc == SL_OK && tjDecompress2(tj, buf, (unsigned long)len, px, w, 0, h,
                                     c == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0)
        rc = sl_err(SL_EFORMAT, "%s: corrupt or truncated JPEG: %s", what, tjGetErrorStr2(tj));
    tjDestroy(tj);
    if (rc != SL_OK) {
        free(px);
        return rc;
    }
    out->w = w;
    out->h = h;
    out->c = c;
    out->data = px;
    return SL_OK;
}

static int32_t le32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

/* BMP through libjpeg-turbo's reader (tjLoadImage: 8-bit palette, 24- and 32-bit, bottom-up or
 * top-down; not 1- or 4-bit, not RLE). Its size is checked from the header first, because the
 * reader allocates the whole image before reading any pixel. tjLoadImage reads files only, so
 * `file` is the path to read; `head` holds the file's first `len` bytes. A BMP whose palette is
 * all gray decodes to 1 channel, as PIL opens it as mode "L". */
static int decode_bmp_file(const char *file, const uint8_t *head, size_t len, const char *what,
                           sl_image *out)
{
    if (len < 26) return sl_err(SL_EFORMAT, "%s: truncated BMP header", what);
    int32_t hdr = le32(head + 14);
    long long w, h;
    if (hdr == 12) { /* OS/2 1.x: 16-bit sizes */
        w = head[18] | head[19] << 8;
        h = head[20] | head[21] << 8;
    } else {
        w = le32(head + 18);
        h = le32(head + 22);
        if (h < 0) h = -h;
    }
    int rc = check_size(what, "BMP", w, h);
    if (rc != SL_OK) return rc;
    int iw = 0, ih = 0, pf = TJPF_UNKNOWN;
    unsigned char *px = tjLoadImage(file, &iw, 1, &ih, &pf, 0);
    if (!px) {
        const char *why = tjGetErrorStr2(NULL);
        const char *p = strstr(why, "tjLoadImage(): ");
        return sl_err(SL_EFORMAT, "%s: unsupported or corrupt BMP: %s", what,
                      p ? p + strlen("tjLoadImage(): ") : why);
    }
    if (iw != w || ih != h || pf < 0 || pf >= TJ_NUMPF ||
        (pf != TJPF_GRAY && tjRedOffset[pf] < 0)) {
        tjFree(px);
        return sl_err(SL_EFORMAT, "%s: BMP decoded to an unexpected layout", what);
    }
    int c = pf == TJPF_GRAY ? 1 : 3, ps = tjPixelSize[pf];
    size_t n = (size_t)iw * ih;
    uint8_t *buf = malloc(n * c);
    if (!buf) {
        tjFree(px);
        return sl_err(SL_ENOMEM, "%s: out of memory for a %dx%d image", what, iw, ih);
    }
    if (c == 1) {
        memcpy(buf, px, n);
    } else {
        int r = tjRedOffset[pf], g = tjGreenOffset[pf], b = tjBlueOffset[pf];
        for (size_t i = 0; i < n; i++) {
            buf[3 * i] = px[i * ps + r];
            buf[3 * i + 1] = px[i * ps + g];
            buf[3 * i + 2] = px[i * ps + b];
        }
    }
    tjFree(px);
    out->w = iw;
    out->h = ih;
    out->c = c;
    out->data = buf;
    return SL_OK;
}

/* A BMP held in memory goes through a private temporary file, since libjpeg-turbo's BMP reader
 * reads only files. The file is removed before returning. */
static int decode_bmp_mem(const void *buf, size_t len, const char *what, sl_image *out)
{
    const char *dir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/sl-bmp-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return sl_err(SL_EIO, "%s: cannot make a temporary file for BMP decoding: %s", what,
                      strerror(errno));
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        p += k;
        left -= (size_t)k;
    }
    int ok = left == 0 && close(fd) == 0;
    if (left != 0) close(fd);
    int rc = ok ? decode_bmp_file(tmp, buf, len, what, out)
                : sl_err(SL_EIO, "%s: cannot write a temporary file for BMP decoding", what);
    unlink(tmp);
    return rc;
}

/* A top-down BMP (negative height, rows stored first to last), which libjpeg-turbo's reader
 * refuses: decoded as the bottom-up file it would be with the height's sign flipped, then its
 * rows put back in order. */
static int decode_bmp_topdown(const void *buf, size_t len, const char *what, sl_image *out)
{
    uint8_t *copy = malloc(len);
    if (!copy) return sl_err(SL_ENOMEM, "%s: out of memory", what);
    memcpy(copy, buf, len);
    uint32_t h = (uint32_t)(-(int64_t)le32(copy + 22));
    for (int k = 0; k < 4; k++)
        copy[22 + k] = (uint8_t)(h >> (8 * k));
    int rc = decode_bmp_mem(copy, len, what, out);
    free(copy);
    if (rc != SL_OK) return rc;
    size_t row = (size_t)out->w * out->c;
    uint8_t tmp[4096];
    for (int y = 0; y < out->h / 2; y++) {
        uint8_t *a = out->data + (size_t)y * row, *b = out->data + (size_t)(out->h - 1 - y) * row;
        for (size_t x = 0; x < row; x += sizeof tmp) {
            size_t n = row - x < sizeof tmp ? row - x : sizeof tmp;
            memcpy(tmp, a + x, n);
            memcpy(a + x, b + x, n);
            memcpy(b + x, tmp, n);
        }
    }
    return SL_OK;
}

/* The one decoding entry point: the format is told by the first bytes, never by the name.
 * `file` is the path the bytes came from, or NULL when they came from memory. */
static int decode_any(const void *buf, size_t len, const char *file, const char *what,
                      sl_image *out)
{
    memset(out, 0, sizeof *out);
    const char *fmt = sl_image_format(buf, len);
    if (!fmt) return sl_err(SL_EFORMAT, "%s: not an image file (PNG, JPEG or BMP)", what);
    if (!strcmp(fmt, "PNG")) return decode_png(buf, len, what, out);
    if (!strcmp(fmt, "JPEG")) return decode_jpeg(buf, len, what, out);
    const uint8_t *b = buf;
    if (len >= 26 && le32(b + 14) != 12 && le32(b + 22) < 0 && le32(b + 22) != INT32_MIN)
        return decode_bmp_topdown(buf, len, what, out);
    return file ? decode_bmp_file(file, buf, len, what, out) : decode_bmp_mem(buf, len, what, out);
}

int sl_image_load(const char *path, sl_image *out)
{
    memset(out, 0, sizeof *out);
    /* The whole file in one read, then decoded from memory: fewer system calls than libpng's
     * stdio reader, which reads the file a few kilobytes at a time. */
    char *data;
    size_t len;
    int rc = sl_read_file(path, &data, &len);
    if (rc != SL_OK) return rc;
    rc = decode_any(data, len, path, path, out);
    free(data);
    return rc;
}

int sl_image_decode(const void *data, size_t len, const char *what, sl_image *out)
{
    return decode_any(data, len, NULL, what, out);
}

int sl_image_alloc(int w, int h, int c, sl_image *out)
{
    memset(out, 0, sizeof *out);
    if (w <= 0 || h <= 0 || (c != 1 && c != 3) || w > 65535 || h > 65535)
        return sl_err(SL_EARG, "image size %dx%dx%d is invalid", w, h, c);
    out->data = calloc((size_t)w * h * c, 1);
    if (!out->data) return sl_err(SL_ENOMEM, "out of memory for a %dx%d image", w, h);
    out->w = w;
    out->h = h;
    out->c = c;
    return SL_OK;
}

void sl_image_free(sl_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* Filter taps of one axis: output i reads n[i] inputs from start[i] with weights
 * w[i * k .. i * k + n[i]). */
typedef struct {
    int k;
    int *start, *n;
    float *w;
} taps;

static void taps_free(taps *t)
{
    free(t->start);
    free(t->n);
    free(t->w);
}

/* PIL's bilinear: a triangle filter over the source box [b0, b0 + bsize) whose support grows
 * with the downscale factor, weights renormalised where the filter leaves the image. */
static int taps_make(taps *t, int in, int out, double b0, double bsize)
{
    double scale = bsize / out, fscale = scale > 1.0 ? scale : 1.0, support = fscale;
    t->k = (int)ceil(support) * 2 + 1;
    t->start = malloc(sizeof(int) * out);
    t->n = malloc(sizeof(int) * out);
    t->w = malloc(sizeof(float) * out * t->k);
    if (!t->start || !t->n || !t->w) {
        taps_free(t);
        return sl_err(SL_ENOMEM, "out of memory for resampling");
    }
    for (int i = 0; i < out; i++) {
        double center = b0 + (i + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > t->k) hi = lo + t->k;
        if (hi <= lo) { /* box outside the image: take the nearest edge pixel */
            lo = center < 0 ? 0 : in - 1;
            hi = lo + 1;
        }
        double sum = 0;
        float *w = t->w + (size_t)i * t->k;
        for (int j = lo; j < hi; j++) {
            double x = (j + 0.5 - center) / fscale;
            double v = 1.0 - fabs(x);
            w[j - lo] = (float)(v > 0 ? v : 0);
            sum += w[j - lo];
        }
        if (sum <= 0) {
            w[0] = 1;
            hi = lo + 1;
            sum = 1;
        }
        for (int j = 0; j < hi - lo; j++)
            w[j] = (float)(w[j] / sum);
        t->start[i] = lo;
        t->n[i] = hi - lo;
    }
    return SL_OK;
}

/* Where resampled rows go: row y of the output, ow x c interleaved floats (0..255), converted
 * to the caller's channel count and written planar, either normalised floats or bytes. */
typedef struct {
    int in_c, c, h, w;
    float a[3], b[3]; /* float output: value * a + b */
    float *f;         /* float output, or */
    uint8_t *u8;      /* byte output */
} row_sink;

static void sink_row(const row_sink *k, int y, const float *row)
{
    size_t plane = (size_t)k->h * k->w, off = (size_t)y * k->w;
    int w = k->w;
    for (int ch = 0; ch < k->c; ch++) {
        float tmp[256];
        for (int x0 = 0; x0 < w; x0 += 256) {
            int n = w - x0 < 256 ? w - x0 : 256;
            const float *px = row + (size_t)x0 * k->in_c;
            /* the channel value, spelled out per case so each loop vectorises: gray (kept, or
             * repeated into every channel), RGB kept, RGB to luma */
            if (k->in_c == 1) {
                for (int i = 0; i < n; i++)
                    tmp[i] = px[i];
            } else if (k->c == 3) {
                for (int i = 0; i < n; i++)
                    tmp[i] = px[3 * i + ch];
            } else {
                for (int i = 0; i < n; i++)
                    tmp[i] = px[3 * i] * 0.299f + px[3 * i + 1] * 0.587f + px[3 * i + 2] * 0.114f;
            }
            if (k->f) {
                float *dst = k->f + ch * plane + off + x0, a = k->a[ch], b = k->b[ch];
                for (int i = 0; i < n; i++)
                    dst[i] = tmp[i] * a + b;
            } else {
                uint8_t *dst = k->u8 + ch * plane + off + x0;
                for (int i = 0; i < n; i++) {
                    float v = tmp[i] + 0.5f;
                    dst[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
                }
            }
        }
    }
}

/* Resamples img to oh x ow (PIL's bilinear, separable: rows first, then columns) and hands
 * each output row to `k` as it is finished, so no full-size intermediate image is kept. */
static int resample(const sl_image *img, int oh, int ow, int mode, const row_sink *k)
{
    int c = img->c;
    double bx = 0, by = 0, bw = img->w, bh = img->h;
    if (mode == SL_RESIZE_SHORT_CROP) {
        double s = fmax((double)ow / img->w, (double)oh / img->h);
        bw = ow / s;
        bh = oh / s;
        bx = (img->w - bw) / 2;
        by = (img->h - bh) / 2;
    }
    float *row = malloc(sizeof(float) * (size_t)ow * c);
    if (!row) return sl_err(SL_ENOMEM, "out of memory for resampling");
    if (img->w == ow && img->h == oh) {
        for (int y = 0; y < oh; y++) {
            const uint8_t *src = img->data + (size_t)y * ow * c;
            for (int i = 0; i < ow * c; i++)
                row[i] = src[i];
            sink_row(k, y, row);
        }
        free(row);
        return SL_OK;
    }
    taps tx = {0}, ty = {0};
    int rc = taps_make(&tx, img->w, ow, bx, bw);
    if (rc == SL_OK) rc = taps_make(&ty, img->h, oh, by, bh);
    /* Only the source rows some output row reads are filtered horizontally. */
    int r0 = ty.start ? ty.start[0] : 0, r1 = ty.start ? ty.start[oh - 1] + ty.n[oh - 1] : 0;
    float *mid = rc == SL_OK ? malloc(sizeof(float) * (size_t)(r1 - r0) * ow * c) : NULL;
    if (rc == SL_OK && !mid) rc = sl_err(SL_ENOMEM, "out of memory for resampling");
    if (rc != SL_OK) {
        taps_free(&tx);
        taps_free(&ty);
        free(row);
        return rc;
    }
    for (int y = r0; y < r1; y++) {
        const uint8_t *src = img->data + (size_t)y * img->w * c;
        float *dst = mid + (size_t)(y - r0) * ow * c;
        for (int x = 0; x < ow; x++) {
            const float *w = tx.w + (size_t)x * tx.k;
            const uint8_t *s = src + (size_t)tx.start[x] * c;
            int n = tx.n[x];
            /* the two channel counts spelled out: the compiler keeps the sums in registers */
            if (c == 3) {
                float a0 = 0, a1 = 0, a2 = 0;
                for (int j = 0; j < n; j++) {
                    a0 += w[j] * s[3 * j];
                    a1 += w[j] * s[3 * j + 1];
                    a2 += w[j] * s[3 * j + 2];
                }
                dst[3 * x] = a0;
                dst[3 * x + 1] = a1;
                dst[3 * x + 2] = a2;
            } else {
                float a0 = 0;
                for (int j = 0; j < n; j++)
                    a0 += w[j] * s[j];
                dst[x] = a0;
            }
        }
    }
    for (int y = 0; y < oh; y++) {
        const float *w = ty.w + (size_t)y * ty.k;
        for (int i = 0; i < ow * c; i++)
            row[i] = 0;
        for (int j = 0; j < ty.n[y]; j++) {
            const float *src = mid + (size_t)(ty.start[y] + j - r0) * ow * c;
            float wj = w[j];
            for (int i = 0; i < ow * c; i++)
                row[i] += wj * src[i];
        }
        sink_row(k, y, row);
    }
    free(mid);
    free(row);
    taps_free(&tx);
    taps_free(&ty);
    return SL_OK;
}

static int check_target(const sl_image *img, int c, int h, int w, int resize)
{
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
        return sl_err(SL_EARG, "empty or invalid image");
    if ((c != 1 && c != 3) || h <= 0 || w <= 0 || h > 65535 || w > 65535)
        return sl_err(SL_EARG, "input shape %dx%dx%d is invalid (channels must be 1 or 3)", c, h,
                      w);
    if (resize != SL_RESIZE_STRETCH && resize != SL_RESIZE_SHORT_CROP)
        return sl_err(SL_EARG, "unknown resize mode %d", resize);
    return SL_OK;
}

int sl_image_to_input(const sl_image *img, const sl_input_spec *spec, float *out)
{
    int rc = check_target(img, spec->c, spec->h, spec->w, spec->resize);
    if (rc != SL_OK) return rc;
    row_sink k = {.in_c = img->c, .c = spec->c, .h = spec->h, .w = spec->w, .f = out};
    for (int ch = 0; ch < spec->c; ch++) {
        if (!(spec->std[ch] > 0)) return sl_err(SL_EARG, "input std[%d] must be positive", ch);
        k.a[ch] = 1.0f / (255.0f * spec->std[ch]);
        k.b[ch] = -spec->mean[ch] / spec->std[ch];
    }
    return resample(img, spec->h, spec->w, spec->resize, &k);
}

int sl_image_to_u8(const sl_image *img, int c, int h, int w, int resize, uint8_t *out)
{
    int rc = check_target(img, c, h, w, resize);
    if (rc != SL_OK) return rc;
    row_sink k = {.in_c = img->c, .c = c, .h = h, .w = w, .u8 = out};
    return resample(img, h, w, resize, &k);
}

/* Growing output buffer for libpng's write callback. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} membuf;

static void mem_write(png_structp p, png_bytep data, size_t n)
{
    membuf *m = png_get_io_ptr(p);
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16384;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *b = realloc(m->buf, cap);
        if (!b) png_error(p, "out of memory");
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp p)
{
    (void)p;
}

static void on_png_error(png_structp p, png_const_charp msg)
{
    snprintf(png_get_error_ptr(p), 256, "%s", msg);
    png_longjmp(p, 1);
}

static void on_png_warning(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg;
}

/* libpng's full write API rather than the simplified one, for one setting: zlib level 3 encodes
 * about twice as fast as the default 6 for files a few percent larger, which is what the synth
 * generator (thousands of images) wants. */
int sl_png_encode(int w, int h, int channels, const uint8_t *pixels, void **png, size_t *len)
{
    *png = NULL;
    *len = 0;
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535 ||
        (channels != 1 && channels != 3 && channels != 4))
        return sl_err(SL_EARG, "cannot encode a %dx%dx%d image as PNG", w, h, channels);
    char msg[256] = "";
    membuf m = {0};
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    png_structp p =
        rows ? png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, on_png_error, on_png_warning)
             : NULL;
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_write_struct(&p, NULL);
        free(rows);
        return sl_err(SL_ENOMEM, "out of memory encoding a %dx%d PNG", w, h);
    }
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        free(rows);
        free(m.buf);
        return sl_err(SL_EFORMAT, "PNG encoding failed: %s", msg);
    }
    png_set_write_fn(p, &m, mem_write, mem_flush);
    int type = channels == 1   ? PNG_COLOR_TYPE_GRAY
               : channels == 3 ? PNG_COLOR_TYPE_RGB
                               : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(p, 3);
    png_write_info(p, info);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)(pixels + (size_t)y * w * channels);
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(rows);
    *png = m.buf;
    *len = m.len;
    return SL_OK;
}

int sl_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels)
{
    void *png;
    size_t len;
    int rc = sl_png_encode(w, h, channels, pixels, &png, &len);
    if (rc != SL_OK) return sl_err_ctx(rc, "%s: ", path);
    rc = sl_write_file_atomic(path, png, len);
    free(png);
    return rc;
}
