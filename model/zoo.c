/* zoo.c: torchvision-compatible architectures built as graphs, with torchvision's init schemes. */
#include "model/zoo.h"
#include "common/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct zb {
    sl_graph *g;
    int rc;
} zb;

/* Every builder returns the new node's name (owned by the graph) or the input on error, so a
 * chain of calls stops adding nodes after the first failure and zb.rc keeps it. */
static const char *add(zb *b, const char *name, sl_op op, const char *const *in, int nin,
                       const sl_attrs *a)
{
    if (b->rc) return in[0];
    sl_node *n = sl_graph_add(b->g, name, op, in, nin, a);
    if (!n) {
        b->rc = SL_ENOMEM;
        return in[0];
    }
    return n->name;
}

static const char *conv(zb *b, const char *name, const char *in, int64_t out, int64_t k,
                        int64_t s, int64_t p, int64_t groups, int bias)
{
    sl_attrs a;
    sl_attrs_window(&a, k, s, p);
    a.out = out;
    a.groups = groups;
    a.bias = bias;
    return add(b, name, SL_OP_CONV2D, &in, 1, &a);
}

static const char *op1(zb *b, const char *name, sl_op op, const char *in)
{
    return add(b, name, op, &in, 1, NULL);
}

static const char *pool(zb *b, const char *name, sl_op op, const char *in, int64_t k, int64_t s,
                        int64_t p)
{
    sl_attrs a;
    sl_attrs_window(&a, k, s, p);
    return add(b, name, op, &in, 1, &a);
}

static const char *apool(zb *b, const char *name, const char *in, int64_t hw)
{
    sl_attrs a;
    sl_attrs_default(&a);
    a.out_hw[0] = a.out_hw[1] = hw;
    return add(b, name, SL_OP_ADAPTIVE_AVG_POOL, &in, 1, &a);
}

static const char *linear(zb *b, const char *name, const char *in, int64_t out)
{
    sl_attrs a;
    sl_attrs_default(&a);
    a.out = out;
    return add(b, name, SL_OP_LINEAR, &in, 1, &a);
}

static const char *dropout(zb *b, const char *name, const char *in, double p)
{
    sl_attrs a;
    sl_attrs_default(&a);
    a.p = p;
    return add(b, name, SL_OP_DROPOUT, &in, 1, &a);
}

static const char *add2(zb *b, const char *name, const char *x, const char *y)
{
    const char *in[2] = {x, y};
    return add(b, name, SL_OP_ADD, in, 2, NULL);
}

#define NM(buf, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), buf)

/* ---- ResNet (torchvision.models.resnet) ---------------------------------------------------- */

static const char *basic_block(zb *b, const char *pre, const char *x, int64_t inplanes,
                               int64_t planes, int64_t stride)
{
    char n[SL_NAME_MAX];
    const char *y = conv(b, NM(n, "%s.conv1", pre), x, planes, 3, stride, 1, 1, 0);
    y = op1(b, NM(n, "%s.bn1", pre), SL_OP_BATCH_NORM, y);
    y = op1(b, NM(n, "%s.relu1", pre), SL_OP_RELU, y);
    y = conv(b, NM(n, "%s.conv2", pre), y, planes, 3, 1, 1, 1, 0);
    y = op1(b, NM(n, "%s.bn2", pre), SL_OP_BATCH_NORM, y);
    const char *id = x;
    if (stride != 1 || inplanes != planes) {
        id = conv(b, NM(n, "%s.downsample.0", pre), x, planes, 1, stride, 0, 1, 0);
        id = op1(b, NM(n, "%s.downsample.1", pre), SL_OP_BATCH_NORM, id);
    }
    y = add2(b, NM(n, "%s.add", pre), y, id);
    return op1(b, pre, SL_OP_RELU, y);
}

static const char *bottleneck(zb *b, const char *pre, const char *x, int64_t inplanes,
                              int64_t planes, int64_t stride)
{
    char n[SL_NAME_MAX];
    const char *y = conv(b, NM(n, "%s.conv1", pre), x, planes, 1, 1, 0, 1, 0);
    y = op1(b, NM(n, "%s.bn1", pre), SL_OP_BATCH_NORM, y);
    y = op1(b, NM(n, "%s.relu1", pre), SL_OP_RELU, y);
    y = conv(b, NM(n, "%s.conv2", pre), y, planes, 3, stride, 1, 1, 0);
    y = op1(b, NM(n, "%s.bn2", pre), SL_OP_BATCH_NORM, y);
    y = op1(b, NM(n, "%s.relu2", pre), SL_OP_RELU, y);
    y = conv(b, NM(n, "%s.conv3", pre), y, planes * 4, 1, 1, 0, 1, 0);
    y = op1(b, NM(n, "%s.bn3", pre), SL_OP_BATCH_NORM, y);
    const char *id = x;
    if (stride != 1 || inplanes != planes * 4) {
        id = conv(b, NM(n, "%s.downsample.0", pre), x, planes * 4, 1, stride, 0, 1, 0);
        id = op1(b, NM(n, "%s.downsample.1", pre), SL_OP_BATCH_NORM, id);
    }
    y = add2(b, NM(n, "%s.add", pre), y, id);
    return op1(b, pre, SL_OP_RELU, y);
}

static void resnet(zb *b, const int *layers, int bottle, int classes)
{
    const char *x = conv(b, "conv1", b->g->input_name, 64, 7, 2, 3, 1, 0);
    x = op1(b, "bn1", SL_OP_BATCH_NORM, x);
    x = op1(b, "relu", SL_OP_RELU, x);
    x = pool(b, "maxpool", SL_OP_MAX_POOL, x, 3, 2, 1);
    int64_t inplanes = 64, exp = bottle ? 4 : 1;
    for (int l = 0; l < 4; l++) {
        int64_t planes = 64 << l;
        for (int i = 0; i < layers[l]; i++) {
            char pre[32];
            snprintf(pre, sizeof pre, "layer%d.%d", l + 1, i);
            int64_t stride = (l > 0 && i == 0) ? 2 : 1;
            x = bottle ? bottleneck(b, pre, x, inplanes, planes, stride)
                       : basic_block(b, pre, x, inplanes, planes, stride);
            inplanes = planes * exp;
        }
    }
    x = apool(b, "avgpool", x, 1);
    x = op1(b, "flatten", SL_OP_FLATTEN, x);
    x = linear(b, "fc", x, classes);
    if (!b->rc) b->rc = sl_graph_add_output(b->g, x);
}

/* ---- MobileNetV2 (torchvision.models.mobilenetv2) ----------------------------------------- */

static const char *conv_bn_relu6(zb *b, const char *pre, const char *x, int64_t out, int64_t k,
                                 int64_t s, int64_t groups, const char *act_name)
{
    char n[SL_NAME_MAX];
    x = conv(b, NM(n, "%s.0", pre), x, out, k, s, (k - 1) / 2, groups, 0);
    x = op1(b, NM(n, "%s.1", pre), SL_OP_BATCH_NORM, x);
    return op1(b, act_name ? act_name : NM(n, "%s.2", pre), SL_OP_RELU6, x);
}

static void mobilenet_v2(zb *b, int classes)
{
    static const int setting[7][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                      {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
    const char *x = conv_bn_relu6(b, "features.0", b->g->input_name, 32, 3, 2, 1, "features.0");
    int64_t inp = 32;
    int f = 1;
    for (int s = 0; s < 7; s++)
        for (int i = 0; i < setting[s][2]; i++, f++) {
            int t = setting[s][0];
            int64_t oup = setting[s][1], stride = i == 0 ? setting[s][3] : 1;
            int64_t hidden = (int64_t)lround((double)inp * t);
            char pre[48], n[SL_NAME_MAX];
            const char *y = x;
            int k = 0;
            if (t != 1) {
                y = conv_bn_relu6(b, NM(pre, "features.%d.conv.%d", f, k), y, hidden, 1, 1, 1, NULL);
                k++;
            }
            y = conv_bn_relu6(b, NM(pre, "features.%d.conv.%d", f, k), y, hidden, 3, stride, hidden,
                              NULL);
            k++;
            y = conv(b, NM(n, "features.%d.conv.%d", f, k), y, oup, 1, 1, 0, 1, 0);
            k++;
            int residual = stride == 1 && inp == oup;
            y = op1(b, NM(n, "features.%d.conv.%d", f, k), SL_OP_BATCH_NORM, y);
            if (residual) y = add2(b, NM(n, "features.%d", f), y, x);
            x = y;
            inp = oup;
        }
    x = conv_bn_relu6(b, "features.18", x, 1280, 1, 1, 1, "features.18");
    x = apool(b, "avgpool", x, 1);
    x = op1(b, "flatten", SL_OP_FLATTEN, x);
    x = dropout(b, "classifier.0", x, 0.2);
    x = linear(b, "classifier.1", x, classes);
    if (!b->rc) b->rc = sl_graph_add_output(b->g, x);
}

/* ---- VGG (torchvision.models.vgg, without batch norm) -------------------------------------- */

static void vgg(zb *b, const int *cfg, int classes)
{
    const char *x = b->g->input_name;
    int i = 0;
    char n[SL_NAME_MAX];
    for (const int *c = cfg; *c; c++) {
        if (*c < 0) {
            x = pool(b, NM(n, "features.%d", i++), SL_OP_MAX_POOL, x, 2, 2, 0);
        } else {
            x = conv(b, NM(n, "features.%d", i++), x, *c, 3, 1, 1, 1, 1);
            x = op1(b, NM(n, "features.%d", i++), SL_OP_RELU, x);
        }
    }
    x = apool(b, "avgpool", x, 7);
    x = op1(b, "flatten", SL_OP_FLATTEN, x);
    x = linear(b, "classifier.0", x, 4096);
    x = op1(b, "classifier.1", SL_OP_RELU, x);
    x = dropout(b, "classifier.2", x, 0.5);
    x = linear(b, "classifier.3", x, 4096);
    x = op1(b, "classifier.4", SL_OP_RELU, x);
    x = dropout(b, "classifier.5", x, 0.5);
    x = linear(b, "classifier.6", x, classes);
    if (!b->rc) b->rc = sl_graph_add_output(b->g, x);
}

/* ---- DenseNet-121 (torchvision.models.densenet) -------------------------------------------- */

static void densenet121(zb *b, int classes)
{
    static const int blocks[4] = {6, 12, 24, 16};
    const int64_t growth = 32, bn_size = 4;
    char n[SL_NAME_MAX];
    const char *x = conv(b, "features.conv0", b->g->input_name, 64, 7, 2, 3, 1, 0);
    x = op1(b, "features.norm0", SL_OP_BATCH_NORM, x);
    x = op1(b, "features.relu0", SL_OP_RELU, x);
    x = pool(b, "features.pool0", SL_OP_MAX_POOL, x, 3, 2, 1);
    int64_t nf = 64;
    for (int bl = 0; bl < 4; bl++) {
        const char *feats[32];
        int nfeat = 0;
        feats[nfeat++] = x;
        for (int l = 1; l <= blocks[bl]; l++) {
            char pre[64];
            snprintf(pre, sizeof pre, "features.denseblock%d.denselayer%d", bl + 1, l);
            const char *in = feats[0];
            if (nfeat > 1) in = add(b, NM(n, "%s.cat", pre), SL_OP_CONCAT, feats, nfeat, NULL);
            const char *y = op1(b, NM(n, "%s.norm1", pre), SL_OP_BATCH_NORM, in);
            y = op1(b, NM(n, "%s.relu1", pre), SL_OP_RELU, y);
            y = conv(b, NM(n, "%s.conv1", pre), y, bn_size * growth, 1, 1, 0, 1, 0);
            y = op1(b, NM(n, "%s.norm2", pre), SL_OP_BATCH_NORM, y);
            y = op1(b, NM(n, "%s.relu2", pre), SL_OP_RELU, y);
            y = conv(b, NM(n, "%s.conv2", pre), y, growth, 3, 1, 1, 1, 0);
            feats[nfeat++] = y;
        }
        x = add(b, NM(n, "features.denseblock%d", bl + 1), SL_OP_CONCAT, feats, nfeat, NULL);
        nf += blocks[bl] * growth;
        if (bl < 3) {
            char pre[48];
            snprintf(pre, sizeof pre, "features.transition%d", bl + 1);
            x = op1(b, NM(n, "%s.norm", pre), SL_OP_BATCH_NORM, x);
            x = op1(b, NM(n, "%s.relu", pre), SL_OP_RELU, x);
            x = conv(b, NM(n, "%s.conv", pre), x, nf / 2, 1, 1, 0, 1, 0);
            x = pool(b, NM(n, "%s.pool", pre), SL_OP_AVG_POOL, x, 2, 2, 0);
            nf /= 2;
        }
    }
    x = op1(b, "features.norm5", SL_OP_BATCH_NORM, x);
    x = op1(b, "relu", SL_OP_RELU, x);
    x = apool(b, "avgpool", x, 1);
    x = op1(b, "flatten", SL_OP_FLATTEN, x);
    x = linear(b, "classifier", x, classes);
    if (!b->rc) b->rc = sl_graph_add_output(b->g, x);
}

/* ---- tinycnn: three conv-bn-relu stages, for unit tests and tiny devices ----------------- */

static void tinycnn(zb *b, int classes)
{
    const char *x = b->g->input_name;
    static const int64_t widths[3] = {16, 32, 64};
    char n[SL_NAME_MAX];
    for (int s = 0; s < 3; s++) {
        x = conv(b, NM(n, "conv%d", s + 1), x, widths[s], 3, 1, 1, 1, 0);
        x = op1(b, NM(n, "bn%d", s + 1), SL_OP_BATCH_NORM, x);
        x = op1(b, NM(n, "relu%d", s + 1), SL_OP_RELU, x);
        if (s < 2) x = pool(b, NM(n, "pool%d", s + 1), SL_OP_MAX_POOL, x, 2, 2, 0);
    }
    /* A global max pool: a defect is a small local cue, which averaging over the whole image
     * dilutes (measured: with an average pool this model stays at chance on the casting line). */
    sl_attrs a;
    sl_attrs_default(&a);
    a.k[0] = a.stride[0] = b->g->input_shape.d[1] / 4;
    a.k[1] = a.stride[1] = b->g->input_shape.d[2] / 4;
    if (a.k[0] < 1 || a.k[1] < 1) {
        b->rc = sl_err(SL_ESHAPE, "tinycnn needs an input of at least 4x4");
        return;
    }
    x = add(b, "globalpool", SL_OP_MAX_POOL, &x, 1, &a);
    x = op1(b, "flatten", SL_OP_FLATTEN, x);
    x = linear(b, "fc", x, classes);
    if (!b->rc) b->rc = sl_graph_add_output(b->g, x);
}

/* ---- initialisation as torchvision does it ----------------------------------------------- */

enum conv_init { KAIMING_FAN_OUT, KAIMING_FAN_IN };
enum linear_init { LINEAR_DEFAULT, LINEAR_NORMAL_001, LINEAR_DEFAULT_ZERO_BIAS };

static int init_params(sl_graph *g, enum conv_init ci, enum linear_init li)
{
    for (int i = 0; i < g->nnodes; i++) {
        sl_node *n = &g->nodes[i];
        int rc = 0;
        sl_param *w = sl_node_param(n, "weight"), *bias = sl_node_param(n, "bias");
        if (n->op == SL_OP_CONV2D) {
            rc = sl_init_kaiming_normal_(w->t, ci == KAIMING_FAN_OUT);
            if (!rc && bias) rc = sl_init_constant_(bias->t, 0);
        } else if (n->op == SL_OP_LINEAR) {
            double bound = 1.0 / sqrt((double)w->shape.d[1]);
            if (li == LINEAR_NORMAL_001) rc = sl_init_normal_(w->t, 0, 0.01);
            else rc = sl_init_kaiming_uniform_(w->t, sqrt(5.0));
            if (!rc && bias)
                rc = li == LINEAR_DEFAULT ? sl_init_uniform_(bias->t, -bound, bound)
                                          : sl_init_constant_(bias->t, 0);
        }
        /* Batch norm keeps the ones / zeros that sl_graph_alloc_params gives it. */
        if (rc) return sl_err(SL_ETORCH, "initialising '%s': %s", n->name, sl_torch_last_error());
    }
    return SL_OK;
}

/* ---- registry ------------------------------------------------------------------------------ */

static const char *const names[] = {"tinycnn", "resnet18", "resnet34", "resnet50", "mobilenet_v2",
                                    "vgg11",   "vgg16",    "densenet121", NULL};

const char *const *sl_zoo_names(void)
{
    return names;
}

/* The index of `arch` in names, or -1 with the error naming the known ones. */
static int lookup(const char *arch)
{
    int k = 0;
    while (names[k] && strcmp(names[k], arch)) k++;
    if (names[k]) return k;
    char list[256] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    sl_err(SL_ENOTFOUND, "unknown architecture '%s' (known: %s)", arch, list);
    return -1;
}

int sl_zoo_check_name(const char *arch)
{
    return lookup(arch) < 0 ? SL_ENOTFOUND : SL_OK;
}

int sl_zoo_build(const char *arch, const sl_zoo_opts *o, sl_graph **out)
{
    *out = NULL;
    int k = lookup(arch);
    if (k < 0) return SL_ENOTFOUND;
    int tiny = k == 0;
    int classes = o && o->classes > 0 ? o->classes : (tiny ? 10 : 1000);
    int64_t c = o && o->c > 0 ? o->c : 3, h = o && o->h > 0 ? o->h : (tiny ? 64 : 224);
    int64_t w = o && o->w > 0 ? o->w : (tiny ? 64 : 224);
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    float m[4] = {0.5f, 0.5f, 0.5f, 0.5f}, s[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    if (c == 3) {
        memcpy(m, mean, sizeof mean);
        memcpy(s, std, sizeof std);
    }
    zb b = {sl_graph_new(arch), SL_OK};
    if (!b.g) return sl_err(SL_ENOMEM, "out of memory");
    int rc = sl_graph_set_input(b.g, "image", c, h, w, m, s);
    if (rc) {
        sl_graph_free(b.g);
        return rc;
    }
    static const int r18[4] = {2, 2, 2, 2}, r34[4] = {3, 4, 6, 3};
    static const int cfg11[] = {64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1, 0};
    static const int cfg16[] = {64,  64,  -1,  128, 128, -1,  256, 256, 256, -1,
                                512, 512, 512, -1,  512, 512, 512, -1,  0};
    switch (k) {
    case 0: tinycnn(&b, classes); break;
    case 1: resnet(&b, r18, 0, classes); break;
    case 2: resnet(&b, r34, 0, classes); break;
    case 3: resnet(&b, r34, 1, classes); break;
    case 4: mobilenet_v2(&b, classes); break;
    case 5: vgg(&b, cfg11, classes); break;
    case 6: vgg(&b, cfg16, classes); break;
    case 7: densenet121(&b, classes); break;
    }
    if (b.rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", sl_errmsg());
        rc = sl_err(b.rc, "%s: cannot build the graph: %s", arch, why);
    }
    if (!rc && (rc = sl_graph_validate(b.g, 0)))
        rc = sl_err_ctx(rc, "%s with input %lldx%lldx%lld: ", arch, (long long)c, (long long)h,
                        (long long)w);
    if (!rc) rc = sl_graph_alloc_params(b.g);
    if (!rc && (!o || o->init)) {
        if (k == 4) rc = init_params(b.g, KAIMING_FAN_OUT, LINEAR_NORMAL_001);
        else if (k == 5 || k == 6) rc = init_params(b.g, KAIMING_FAN_OUT, LINEAR_NORMAL_001);
        else if (k == 7) rc = init_params(b.g, KAIMING_FAN_IN, LINEAR_DEFAULT_ZERO_BIAS);
        else rc = init_params(b.g, KAIMING_FAN_OUT, LINEAR_DEFAULT);
    }
    if (rc) {
        sl_graph_free(b.g);
        return rc;
    }
    *out = b.g;
    return SL_OK;
}
