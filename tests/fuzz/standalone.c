/* A stand-in for libFuzzer's main(), used when the compiler has no libFuzzer (gcc).
 *
 * The fuzz targets only define LLVMFuzzerTestOneInput; this driver feeds it the corpus
 * (files and directories given on the command line, as with libFuzzer) and then seeded
 * random mutations of the corpus until -runs or -max_total_time is reached. There is no
 * coverage feedback, so it finds less than libFuzzer, but it runs the same invariant
 * checks under ASan/UBSan, and a test built with it never passes without fuzzing.
 *
 * Flags (libFuzzer spelling, so scripts need not care which engine they drive):
 *   -runs=N            mutations after the corpus (default: until the time limit)
 *   -max_total_time=S  seconds for the whole run (default 10 when -runs is not given)
 *   -seed=S            mutation seed (default 1): a run is reproducible from its seed
 *   -max_len=N         longest mutated input (default 65536)
 *   -timeout=S         one input may take at most S seconds (default 10)
 *   -artifact_prefix=P where a crashing input is written (default "./")
 * Other -flags are ignored. A single file argument with no directory replays just that
 * file (reproducing a crash). Every input is passed in a malloc'd block of exactly its
 * size, so ASan catches a read one byte past the end. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
void __sanitizer_set_death_callback(void (*callback)(void));

typedef struct {
    uint8_t *p;
    size_t n;
} input;

static input *corpus;
static size_t ncorpus, capcorpus;
static const uint8_t *cur_data;
static size_t cur_size;
static const char *artifact_prefix = "./";

static uint64_t rng_state = 1;
static uint64_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Writes the input being run when a sanitizer or a signal ends the process. Only
 * async-signal-safe calls. */
static void save_crash(void) {
    if (!cur_data) return;
    char path[512];
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < cur_size; i++) h = (h ^ cur_data[i]) * 1099511628211ULL;
    snprintf(path, sizeof path, "%scrash-%016llx", artifact_prefix, (unsigned long long)h);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (off < cur_size) {
            ssize_t w = write(fd, cur_data + off, cur_size - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        close(fd);
        const char msg[] = "standalone: crashing input written to ";
        (void)!write(2, msg, sizeof msg - 1);
        (void)!write(2, path, strlen(path));
        (void)!write(2, "\n", 1);
    }
}

static void on_signal(int sig) {
    if (sig == SIGALRM) {
        const char msg[] = "standalone: timeout: one input ran past -timeout\n";
        (void)!write(2, msg, sizeof msg - 1);
    }
    save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void add_input(const uint8_t *p, size_t n) {
    if (ncorpus == capcorpus) {
        capcorpus = capcorpus ? capcorpus * 2 : 64;
        corpus = realloc(corpus, capcorpus * sizeof *corpus);
        if (!corpus) abort();
    }
    uint8_t *c = malloc(n ? n : 1);
    if (!c) abort();
    if (n) memcpy(c, p, n);
    corpus[ncorpus].p = c;
    corpus[ncorpus].n = n;
    ncorpus++;
}

static int read_file(const char *path, size_t max) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *buf = malloc(max ? max : 1);
    if (!buf) abort();
    size_t n = fread(buf, 1, max, f);
    fclose(f);
    add_input(buf, n);
    free(buf);
    return 0;
}

static void load_path(const char *path, size_t max) {
    struct stat st;
    if (stat(path, &st) != 0) {
        /* libFuzzer creates a missing corpus directory; so do we (it stays empty). */
        mkdir(path, 0755);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (read_file(path, max) != 0) fprintf(stderr, "standalone: cannot read %s\n", path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        if (!names) abort();
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    /* Sorted, so a run depends only on its seed and the corpus content. */
    for (size_t i = 1; i < nn; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < nn; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) read_file(full, max);
        free(names[i]);
    }
    free(names);
}

static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, '"', '\\', '{', '}', '[', ']', ',', ':',
                                      '0', '9', '-', 'e', '.', 'u', '\n', '\r', 0xc3, 0xed, 0xf4, 0x18,
                                      0x19, 0x1a, 0x1b, 0x20, 0x40, 0x58, 0x60, 0x78, 0xa0, 0xa1, 0xd8};

/* One random edit of buf[0..*n) (capacity cap). */
static void mutate_once(uint8_t *buf, size_t *n, size_t cap) {
    size_t len = *n;
    switch (rnd_below(9)) {
    case 0: /* flip a bit */
        if (len) buf[rnd_below(len)] ^= (uint8_t)(1u << rnd_below(8));
        break;
    case 1: /* random byte */
        if (len) buf[rnd_below(len)] = (uint8_t)rnd();
        break;
    case 2: /* interesting byte */
        if (len) buf[rnd_below(len)] = interesting[rnd_below(sizeof interesting)];
        break;
    case 3: { /* insert bytes */
        size_t k = 1 + rnd_below(8);
        if (len + k > cap) break;
        size_t at = rnd_below(len + 1);
        memmove(buf + at + k, buf + at, len - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = rnd() & 1 ? interesting[rnd_below(sizeof interesting)] : (uint8_t)rnd();
        *n = len + k;
        break;
    }
    case 4: { /* delete a range */
        if (!len) break;
        size_t at = rnd_below(len), k = 1 + rnd_below(len - at < 16 ? len - at : 16);
        memmove(buf + at, buf + at + k, len - at - k);
        *n = len - k;
        break;
    }
    case 5: { /* duplicate a range */
        if (!len) break;
        size_t at = rnd_below(len), k = 1 + rnd_below(len - at < 64 ? len - at : 64);
        if (len + k > cap) break;
        size_t to = rnd_below(len + 1);
        uint8_t tmp[64];
        memcpy(tmp, buf + at, k);
        memmove(buf + to + k, buf + to, len - to);
        memcpy(buf + to, tmp, k);
        *n = len + k;
        break;
    }
    case 6: /* truncate */
        if (len) *n = rnd_below(len);
        break;
    case 7: { /* splice with another corpus input */
        if (!ncorpus) break;
        const input *o = &corpus[rnd_below(ncorpus)];
        if (!o->n) break;
        size_t from = rnd_below(o->n), k = 1 + rnd_below(o->n - from);
        size_t at = rnd_below(len + 1);
        if (at + k > cap) k = cap - at;
        memcpy(buf + at, o->p + from, k);
        if (at + k > len) *n = at + k;
        break;
    }
    default: { /* arithmetic on a byte (lengths, counts, CBOR heads) */
        if (len) {
            size_t at = rnd_below(len);
            buf[at] = (uint8_t)(buf[at] + (int)rnd_below(35) - 17);
        }
        break;
    }
    }
}

static void run_one(const uint8_t *p, size_t n, unsigned timeout) {
    uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: overreads are caught */
    if (!copy) abort();
    if (n) memcpy(copy, p, n);
    cur_data = copy;
    cur_size = n;
    alarm(timeout);
    LLVMFuzzerTestOneInput(copy, n);
    alarm(0);
    cur_data = NULL;
    free(copy);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long long runs = -1;
    double max_time = -1;
    size_t max_len = 65536;
    unsigned timeout = 10;
    uint64_t seed = 1;
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    __sanitizer_set_death_callback(save_crash);
    signal(SIGALRM, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);

    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            npaths++;
            continue;
        }
        if (!strncmp(a, "-runs=", 6)) runs = atoll(a + 6);
        else if (!strncmp(a, "-max_total_time=", 16)) max_time = atof(a + 16);
        else if (!strncmp(a, "-seed=", 6)) seed = strtoull(a + 6, NULL, 10);
        else if (!strncmp(a, "-max_len=", 9)) max_len = (size_t)atoll(a + 9);
        else if (!strncmp(a, "-timeout=", 9)) timeout = (unsigned)atoi(a + 9);
        else if (!strncmp(a, "-artifact_prefix=", 17)) artifact_prefix = a + 17;
    }
    if (runs < 0 && max_time < 0) max_time = 10;
    if (!seed) seed = 1;
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;

    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-') load_path(argv[i], max_len > 1048576 ? max_len : 1048576);

    double t0 = now_s();
    for (size_t i = 0; i < ncorpus; i++) run_one(corpus[i].p, corpus[i].n, timeout);
    fprintf(stderr, "standalone: replayed %zu corpus inputs (seed %llu)\n", ncorpus, (unsigned long long)seed);

    /* One file argument: a reproduction run, no mutations. */
    int replay_only = npaths == 1 && ncorpus == 1 && runs < 0 && max_time < 0;
    long long done = 0;
    if (!replay_only && npaths > 0) {
        uint8_t *buf = malloc(max_len + 1);
        if (!buf) abort();
        for (;;) {
            if (runs >= 0 && done >= runs) break;
            if (max_time >= 0 && (done & 63) == 0 && now_s() - t0 >= max_time) break;
            size_t n = 0;
            if (ncorpus) {
                const input *b = &corpus[rnd_below(ncorpus)];
                n = b->n < max_len ? b->n : max_len;
                memcpy(buf, b->p, n);
            }
            size_t k = 1 + rnd_below(rnd() & 1 ? 2 : 8);
            for (size_t i = 0; i < k; i++) mutate_once(buf, &n, max_len);
            run_one(buf, n, timeout);
            done++;
        }
        free(buf);
    }
    double el = now_s() - t0;
    fprintf(stderr, "standalone: Done %lld runs in %.1f s (%.0f exec/s)\n",
            (long long)ncorpus + done, el, el > 0 ? (double)(ncorpus + (size_t)done) / el : 0.0);
    for (size_t i = 0; i < ncorpus; i++) free(corpus[i].p);
    free(corpus);
    return 0;
}
